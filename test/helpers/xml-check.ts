// A strict reader for the XML Parley writes itself (the benchmark chart's SVG): it
// throws on anything not well-formed (unbalanced or crossed tags, unquoted or
// repeated attributes, a bare & or <, more than one root) and returns the element tree.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][\w:.-]*/;
const ENTITY = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;

function checkEntities(s: string, where: string): void {
  for (let i = s.indexOf('&'); i >= 0; i = s.indexOf('&', i + 1)) {
    if (!ENTITY.test(s.slice(i))) throw new Error(`bare & in ${where}: ${s.slice(i, i + 20)}`);
  }
}

export function parseXml(xml: string): XmlElement {
  let i = 0;
  if (xml.startsWith('<?xml')) {
    i = xml.indexOf('?>');
    if (i < 0) throw new Error('unterminated XML declaration');
    i += 2;
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (text.trim()) {
      if (!stack.length) throw new Error(`text outside the root element: ${text.trim().slice(0, 30)}`);
      checkEntities(text, 'text');
      if (text.includes('>') && /]]>/.test(text)) throw new Error('"]]>" in text');
      stack[stack.length - 1].text += text;
    }
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    if (xml.startsWith('</', i)) {
      const m = NAME.exec(xml.slice(i + 2));
      const close = xml.indexOf('>', i);
      if (!m || close < 0 || xml.slice(i + 2 + m[0].length, close).trim()) throw new Error(`bad closing tag at ${i}`);
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new Error(`</${m[0]}> closes <${open?.name ?? 'nothing'}>`);
      i = close + 1;
      continue;
    }
    const m = NAME.exec(xml.slice(i + 1));
    if (!m) throw new Error(`bad tag at ${i}: ${xml.slice(i, i + 20)}`);
    const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
    i += 1 + m[0].length;
    for (;;) {
      const rest = xml.slice(i);
      const a = /^\s+([A-Za-z_:][\w:.-]*)="([^"<]*)"/.exec(rest);
      if (a) {
        if (a[1] in el.attrs) throw new Error(`attribute ${a[1]} twice on <${el.name}>`);
        checkEntities(a[2], `attribute ${a[1]}`);
        el.attrs[a[1]] = a[2];
        i += a[0].length;
        continue;
      }
      const end = /^\s*(\/?)>/.exec(rest);
      if (!end) throw new Error(`bad attribute or tag end on <${el.name}>: ${rest.slice(0, 30)}`);
      i += end[0].length;
      if (stack.length) stack[stack.length - 1].children.push(el);
      else if (root) throw new Error('more than one root element');
      else root = el;
      if (!end[1]) stack.push(el);
      break;
    }
  }
  if (stack.length) throw new Error(`<${stack[stack.length - 1].name}> is never closed`);
  if (!root) throw new Error('no root element');
  return root;
}

/** Every element of the tree, depth first. */
export function allElements(e: XmlElement): XmlElement[] {
  return [e, ...e.children.flatMap(allElements)];
}
