// Sign-in: the API token is sent once and exchanged for the session cookie; the
// page keeps no copy of it (the field is cleared, nothing goes to storage).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, ApiFailure } from './api.ts';

export function SignIn(props: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (ev: Event): Promise<void> => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/console/session', { token });
      setToken('');
      props.onSignedIn();
    } catch (err) {
      setError(err instanceof ApiFailure && err.status === 401 ? 'Wrong token.' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form onSubmit=${submit} data-test="signin">
      <h1>Parley console</h1>
      <label for="token">API token</label>
      <input id="token" type="password" autocomplete="current-password" value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
      <button type="submit" disabled=${busy || token.length === 0}>Sign in</button>
      ${error ? html`<p class="error" role="alert">${error}</p>` : null}
      <p class="hint">The token is the API's <code>api.token</code>; it is exchanged for a session cookie and not kept by the page.</p>
    </form>
  </main>`;
}
