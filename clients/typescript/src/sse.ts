/**
 * A Server-Sent Events parser (the WHATWG event-stream format) that knows nothing of the transport:
 * feed it text as it arrives (from fetch's body reader, an XMLHttpRequest's progress, a socket) and it
 * returns the events completed so far.
 */

export interface SseMessage {
  /** `message` when the event names no type. */
  event: string;
  data: string;
  /** The `id:` of this event, or the last one before it (the value to send back as Last-Event-ID). */
  lastEventId: string;
  /** A `retry:` field in this event, in milliseconds. */
  retry?: number;
}

export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private retry: number | undefined;
  private sawData = false;
  private first = true;
  lastEventId = "";

  /** Parse another piece of the stream; the events it completed, in order. */
  push(chunk: string): SseMessage[] {
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1); // a byte order mark at the very start
    }
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    for (;;) {
      const end = this.lineEnd();
      if (end === null) break;
      const line = this.buffer.slice(0, end.at);
      this.buffer = this.buffer.slice(end.at + end.length);
      const message = this.line(line);
      if (message !== null) messages.push(message);
    }
    return messages;
  }

  /** The stream ended: an event not terminated by a blank line is dropped, as the format says. */
  end(): void {
    this.buffer = "";
    this.reset();
  }

  private lineEnd(): { at: number; length: number } | null {
    const cr = this.buffer.indexOf("\r");
    const lf = this.buffer.indexOf("\n");
    if (cr === -1 && lf === -1) return null;
    if (cr !== -1 && (lf === -1 || cr < lf)) {
      if (cr === this.buffer.length - 1) return null; // maybe a CRLF split across chunks: wait for more
      return { at: cr, length: this.buffer[cr + 1] === "\n" ? 2 : 1 };
    }
    return { at: lf, length: 1 };
  }

  private line(line: string): SseMessage | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null; // a comment
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") {
      this.data.push(value);
      this.sawData = true;
    } else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }

  private dispatch(): SseMessage | null {
    const retry = this.retry;
    const message: SseMessage | null = this.sawData
      ? { event: this.event || "message", data: this.data.join("\n"), lastEventId: this.lastEventId }
      : null;
    if (message !== null && retry !== undefined) message.retry = retry;
    const onlyRetry = message === null && retry !== undefined;
    this.reset();
    // A block with a retry field and no data still sets the reconnection time.
    return onlyRetry ? { event: "", data: "", lastEventId: this.lastEventId, retry } : message;
  }

  private reset(): void {
    this.event = "";
    this.data = [];
    this.retry = undefined;
    this.sawData = false;
  }
}
