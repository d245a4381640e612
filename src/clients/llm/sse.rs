//! Server-sent events of a streamed completion, parsed incrementally: bytes arrive in
//! arbitrary pieces (split inside a line, or inside a UTF-8 character); complete events are
//! decoded as they arrive, and the deltas are accumulated into text, tool calls and usage.

use super::wire::{Chunk, FunctionCall, ToolCall, Usage};

/// Splits a byte stream into `data:` payloads.
#[derive(Default)]
pub struct EventSplitter {
    buffer: Vec<u8>,
}

impl EventSplitter {
    /// Feeds bytes; returns the data payloads of every event completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = find_event_end(&self.buffer) {
            let (event, rest) = self.buffer.split_at(end.0);
            let data = event_data(event);
            self.buffer = rest[end.1..].to_vec();
            if let Some(data) = data {
                events.push(data);
            }
        }
        events
    }
}

/// Position of the blank line ending the first event, and the separator's length.
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The `data:` lines of one event, joined with newlines (comments and other fields ignored).
fn event_data(event: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(event);
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The completion being assembled from chunks.
#[derive(Debug, Default)]
pub struct Accumulator {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Option<Usage>,
    pub finish_reason: Option<String>,
    pub done: bool,
}

impl Accumulator {
    /// Applies one event payload. Returns the text it added (for time-to-first-token), or an
    /// error for a payload that is not a chunk.
    pub fn apply(&mut self, data: &str) -> Result<Option<String>, serde_json::Error> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(None);
        }
        let chunk: Chunk = serde_json::from_str(data)?;
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
        let mut added = None;
        for choice in chunk.choices {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                self.content.push_str(&text);
                added = Some(text);
            }
            for delta in choice.delta.tool_calls {
                while self.tool_calls.len() <= delta.index {
                    self.tool_calls.push(ToolCall {
                        id: String::new(),
                        kind: "function".into(),
                        function: FunctionCall {
                            name: String::new(),
                            arguments: String::new(),
                        },
                    });
                }
                let call = &mut self.tool_calls[delta.index];
                if let Some(id) = delta.id {
                    call.id = id;
                }
                if let Some(f) = delta.function {
                    if let Some(name) = f.name {
                        call.function.name.push_str(&name);
                    }
                    if let Some(args) = f.arguments {
                        call.function.arguments.push_str(&args);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n\
        data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Пломба \"},\"finish_reason\":null}],\"usage\":null}\n\n\
        : keep-alive comment\n\n\
        data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"стоит\"},\"finish_reason\":null}],\"usage\":null}\n\n\
        data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
        data: {\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":7,\"total_tokens\":57}}\n\n\
        data: [DONE]\n\n";

    fn run(pieces: &[&[u8]]) -> Accumulator {
        let (mut split, mut acc) = (EventSplitter::default(), Accumulator::default());
        for p in pieces {
            for data in split.feed(p) {
                acc.apply(&data).unwrap();
            }
        }
        acc
    }

    #[test]
    fn a_stream_split_at_every_byte_gives_the_same_text_and_usage() {
        let whole = run(&[STREAM.as_bytes()]);
        let bytes = STREAM.as_bytes();
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        let split = run(&singles);
        for acc in [whole, split] {
            assert_eq!(acc.content, "Пломба стоит");
            assert_eq!(
                acc.usage,
                Some(Usage {
                    prompt_tokens: 50,
                    completion_tokens: 7
                })
            );
            assert_eq!(acc.finish_reason.as_deref(), Some("stop"));
            assert!(acc.done);
        }
    }

    #[test]
    fn streamed_tool_call_arguments_are_joined_by_index() {
        let events = [
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"price_lookup","arguments":""}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"serv"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ice\":\"пломба\"}"}}]},"finish_reason":null}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ];
        let mut acc = Accumulator::default();
        for e in events {
            acc.apply(e).unwrap();
        }
        assert_eq!(acc.tool_calls.len(), 1);
        assert_eq!(acc.tool_calls[0].id, "call_1");
        assert_eq!(acc.tool_calls[0].function.name, "price_lookup");
        assert_eq!(
            acc.tool_calls[0].function.arguments,
            r#"{"service":"пломба"}"#
        );
        assert_eq!(acc.finish_reason.as_deref(), Some("tool_calls"));
    }

    #[test]
    fn crlf_separated_events_are_understood() {
        let mut split = EventSplitter::default();
        assert_eq!(
            split.feed(b"data: [DONE]\r\n\r\n"),
            vec!["[DONE]".to_owned()]
        );
    }
}
