// Follows a child process's stdout of JSON lines (one object per line): each parsed line
// goes to onLine; a line that is not JSON is passed to onOther (by default, stderr).
export async function readJsonLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (o: Record<string, unknown>) => void,
  onOther: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Promise<void> {
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        onOther(line);
        continue;
      }
      onLine(parsed);
    }
  }
}
