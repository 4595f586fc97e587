// Splits an option string (an inventory's ansible_ssh_common_args) into words as Python's shlex.split does, which
// is how Ansible itself reads it: single and double quotes group, a backslash escapes outside single quotes.
export function splitArgs(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && /["\\$`]/.test(text[i + 1] ?? "")) word += text[++i];
      else word += c;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= "";
    } else if (c === "\\") {
      word = (word ?? "") + (text[++i] ?? "");
    } else word = (word ?? "") + c;
  }
  if (quote) throw new Error(`unclosed ${quote} in ${JSON.stringify(text)}`);
  if (word !== undefined) words.push(word);
  return words;
}
