//! Reading the dashboard's streamed answers from the command line: its event stream
//! (Server-Sent Events: frames split at blank lines, `event`, `id` and `data` fields), and
//! a discovery's JSON lines.

use super::Failure;

/// One event as the stream framed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// A frame larger than this is not the dashboard's (its events are small: a run without
/// its documents, an agent): the stream is refused rather than buffered without end.
const MAX_FRAME: usize = 1024 * 1024;

pub struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
    /// The last id seen, to resume after.
    pub last_id: Option<String>,
}

impl EventStream {
    pub fn new(response: reqwest::Response) -> Self {
        EventStream { response, buffer: Vec::new(), last_id: None }
    }

    /// The next frame; None when the stream ended (the dashboard stopped, or the
    /// connection was lost: `Err` says which when it knows).
    pub async fn next(&mut self) -> Result<Option<Frame>, Failure> {
        loop {
            if let Some(frame) = take_frame(&mut self.buffer) {
                if let Some(frame) = parse(&frame) {
                    if frame.id.is_some() {
                        self.last_id.clone_from(&frame.id);
                    }
                    return Ok(Some(frame));
                }
                continue;
            }
            if self.buffer.len() > MAX_FRAME {
                return Err(Failure::Failed("the event stream sent an event larger than 1 MiB".into()));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                Ok(None) => return Ok(None),
                Err(e) => return Err(Failure::Failed(format!("the event stream broke: {e}"))),
            }
        }
    }
}

/// A streamed answer of one JSON document per line (`POST /discover`).
pub struct JsonLines {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl JsonLines {
    pub fn new(response: reqwest::Response) -> Self {
        JsonLines { response, buffer: Vec::new() }
    }

    /// The next line's document; None at the end.
    pub async fn next<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>, Failure> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return serde_json::from_slice(&line).map(Some).map_err(|e| {
                    Failure::Failed(format!("the dashboard sent a line that is not what was expected: {e}"))
                });
            }
            if self.buffer.len() > MAX_FRAME {
                return Err(Failure::Failed("the dashboard sent a line larger than 1 MiB".into()));
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.extend_from_slice(&chunk),
                Ok(None) => return Ok(None),
                Err(e) => return Err(Failure::Failed(format!("the answer broke off: {e}"))),
            }
        }
    }
}

/// Takes the first complete frame (up to a blank line) off the buffer.
fn take_frame(buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let (end, skip) = find_blank_line(buffer)?;
    let frame = buffer[..end].to_vec();
    buffer.drain(..end + skip);
    Some(frame)
}

fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    (0..buffer.len()).find_map(|i| {
        let rest = &buffer[i..];
        if rest.starts_with(b"\n\n") {
            Some((i, 2))
        } else if rest.starts_with(b"\r\n\r\n") {
            Some((i, 4))
        } else {
            None
        }
    })
}

/// A frame's fields; None for a frame of comments only (the keep-alive).
fn parse(frame: &[u8]) -> Option<Frame> {
    let text = String::from_utf8_lossy(frame);
    let mut event = None;
    let mut id = None;
    let mut data: Option<String> = None;
    for line in text.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_owned()),
            "id" => id = Some(value.to_owned()),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
    if event.is_none() && data.is_none() {
        return None;
    }
    Some(Frame { event: event.unwrap_or_else(|| "message".into()), id, data: data.unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_at_blank_lines_and_keep_their_fields() {
        let mut buffer = b": keep-alive\n\nevent: run.updated\nid: 1-2\ndata: {\"a\":\ndata: 1}\n\nevent: ping\r\ndata: {}\r\n\r\npartial".to_vec();
        let frames: Vec<Frame> = std::iter::from_fn(|| take_frame(&mut buffer)).filter_map(|f| parse(&f)).collect();
        assert_eq!(
            frames,
            vec![
                Frame { event: "run.updated".into(), id: Some("1-2".into()), data: "{\"a\":\n1}".into() },
                Frame { event: "ping".into(), id: None, data: "{}".into() },
            ]
        );
        assert_eq!(buffer, b"partial", "an incomplete frame waits for the rest");
    }
}
