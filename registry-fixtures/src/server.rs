//! A loopback HTTP/1.1 server for tests and demos: serves a directory (with ETag / 304 and
//! Range / 206) and can be told to misbehave, per path, the ways real servers and networks do.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the server answers one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// Serve the file properly.
    Normal,
    /// 404 Not Found.
    NotFound,
    /// 500 for the first `n` requests, then normal.
    FailFirst(usize),
    /// 429 with `Retry-After: 1` for the first `n` requests, then normal.
    TooManyFirst(usize),
    /// Announce the full length, send only `n` bytes, close (first request only, then normal).
    TruncateFirst(usize),
    /// Reset the connection after `n` bytes of body (first request only, then normal).
    ResetFirst(usize),
    /// Send `n` bytes, then nothing for a long time (every request).
    Stall(usize),
    /// Serve other bytes of the same length.
    WrongBytes,
    /// Serve the file with extra bytes appended (and a length to match).
    TooLong(usize),
    /// Answer range requests with the whole file (200).
    IgnoreRange,
    /// Answer range requests from the wrong offset (206 that lies).
    WrongRangeOffset,
    /// Serve the body (ranges honoured) `n` bytes at a time with `ms` milliseconds between
    /// pieces (every request): a slow or throttled link.
    Trickle(usize, u64),
}

/// One request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The path requested.
    pub path: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// The `If-None-Match` header, if any.
    pub if_none_match: Option<String>,
}

#[derive(Default)]
struct State {
    behaviors: HashMap<String, Behavior>,
    counts: HashMap<String, usize>,
    log: Vec<Request>,
}

/// A running server; stops when dropped.
pub struct FixtureServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for FixtureServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FixtureServer({})", self.address)
    }
}

impl FixtureServer {
    /// Serves `root` on 127.0.0.1 at a free port.
    pub fn start(root: impl Into<PathBuf>) -> std::io::Result<FixtureServer> {
        let root = root.into();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_stop) = (state.clone(), stop.clone());
        // A blocking accept answers at once; `drop` wakes it with a connection of its own.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if thread_stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, state, stop) = (root.clone(), thread_state.clone(), thread_stop.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &state, &stop);
                });
            }
        });
        Ok(FixtureServer {
            address,
            state,
            stop,
        })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }

    /// Makes `path` (e.g. `/pkgs/a.psp`) behave as told.
    pub fn set(&self, path: &str, behavior: Behavior) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        state.behaviors.insert(path.to_string(), behavior);
        state.counts.remove(path);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .log
            .clone()
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.address);
    }
}

/// Like nginx's, from what the file's metadata says, so that a request does not read the
/// whole file: a file replaced (a new inode), rewritten (a new change time) or resized gets a
/// new tag. A misbehaviour that changes the bytes sent changes the tag too.
fn etag(metadata: &std::fs::Metadata, behavior: &Behavior) -> String {
    use std::os::unix::fs::MetadataExt;
    let altered = match behavior {
        Behavior::WrongBytes => "-w".to_string(),
        Behavior::TooLong(extra) => format!("-l{extra}"),
        _ => String::new(),
    };
    format!(
        "\"{:x}-{:x}.{:x}-{:x}{altered}\"",
        metadata.ino(),
        metadata.ctime(),
        metadata.ctime_nsec(),
        metadata.len()
    )
}

fn read_from(file: &std::path::Path, from: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Seek;
    let mut file = std::fs::File::open(file)?;
    file.seek(std::io::SeekFrom::Start(from as u64))?;
    let mut content = Vec::new();
    file.read_to_end(&mut content)?;
    Ok(content)
}

fn serve(
    stream: TcpStream,
    root: &std::path::Path,
    state: &Mutex<State>,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let request = Request {
        path: path.clone(),
        range: headers.get("range").cloned(),
        if_none_match: headers.get("if-none-match").cloned(),
    };
    let (behavior, count) = {
        let mut state = state.lock().unwrap_or_else(|poison| poison.into_inner());
        state.log.push(request.clone());
        let count = state.counts.entry(path.clone()).or_insert(0);
        *count += 1;
        let count = *count;
        (
            state
                .behaviors
                .get(&path)
                .cloned()
                .unwrap_or(Behavior::Normal),
            count,
        )
    };
    let relative = percent_decode(path.trim_start_matches('/'));
    let file = root.join(relative);
    let metadata = match (&behavior, std::fs::metadata(&file)) {
        (Behavior::NotFound, _) | (_, Err(_)) => {
            return respond(&mut stream, "404 Not Found", &[], b"not found\n")
        }
        (_, Ok(metadata)) if !metadata.is_file() => {
            return respond(&mut stream, "404 Not Found", &[], b"not found\n")
        }
        (_, Ok(metadata)) => metadata,
    };
    match behavior {
        Behavior::FailFirst(n) if count <= n => {
            return respond(
                &mut stream,
                "500 Internal Server Error",
                &[],
                b"try again\n",
            )
        }
        Behavior::TooManyFirst(n) if count <= n => {
            return respond(
                &mut stream,
                "429 Too Many Requests",
                &[("Retry-After", "1".into())],
                b"slow down\n",
            )
        }
        _ => {}
    }
    let extra_bytes = match behavior {
        Behavior::TooLong(extra) => extra,
        _ => 0,
    };
    let length = usize::try_from(metadata.len()).unwrap_or(usize::MAX) + extra_bytes;
    let tag = etag(&metadata, &behavior);
    if request.if_none_match.as_deref() == Some(tag.as_str()) {
        return respond(&mut stream, "304 Not Modified", &[("ETag", tag)], b"");
    }
    let range = request
        .range
        .as_deref()
        .and_then(|range| range.strip_prefix("bytes="))
        .and_then(|range| range.strip_suffix('-'))
        .and_then(|start| start.parse::<usize>().ok())
        .filter(|start| *start <= length);
    let content_range = |start: usize| {
        (
            "Content-Range",
            format!("bytes {start}-{}/{length}", length.saturating_sub(1)),
        )
    };
    // Only the bytes sent are read: a range of a large file costs what the range costs.
    let (status, from, extra): (&str, usize, Vec<(&str, String)>) = match (range, &behavior) {
        (Some(start), Behavior::WrongRangeOffset) => (
            "206 Partial Content",
            start.saturating_sub(7),
            vec![content_range(start)],
        ),
        (Some(start), behavior) if *behavior != Behavior::IgnoreRange => {
            ("206 Partial Content", start, vec![content_range(start)])
        }
        _ => ("200 OK", 0, vec![]),
    };
    let mut content = read_from(&file, from)?;
    match behavior {
        Behavior::WrongBytes => content
            .iter_mut()
            .for_each(|byte| *byte = byte.wrapping_add(1)),
        Behavior::TooLong(extra) => {
            let appended = (length - from).saturating_sub(content.len()).min(extra);
            content.extend(std::iter::repeat_n(b'!', appended));
        }
        _ => {}
    }
    let mut headers = vec![("ETag", tag), ("Accept-Ranges", "bytes".to_string())];
    headers.extend(extra);
    let head = header_block(status, &headers, content.len());
    stream.write_all(head.as_bytes())?;
    match behavior {
        Behavior::TruncateFirst(n) if count == 1 => {
            stream.write_all(&content[..n.min(content.len())])?;
            stream.shutdown(Shutdown::Both)
        }
        Behavior::ResetFirst(n) if count == 1 => {
            stream.write_all(&content[..n.min(content.len())])?;
            // SO_LINGER 0 would send RST; dropping mid-body with unread input does too.
            stream.set_nodelay(true)?;
            drop(stream);
            Ok(())
        }
        Behavior::Stall(n) => {
            stream.write_all(&content[..n.min(content.len())])?;
            stream.flush()?;
            for _ in 0..600 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        }
        Behavior::Trickle(n, ms) => {
            stream.set_nodelay(true)?;
            for piece in content.chunks(n.max(1)) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                stream.write_all(piece)?;
                stream.flush()?;
                std::thread::sleep(Duration::from_millis(ms));
            }
            Ok(())
        }
        _ => stream.write_all(&content),
    }
}

fn header_block(status: &str, headers: &[(&str, String)], length: usize) -> String {
    let mut head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    stream.write_all(header_block(status, headers, body.len()).as_bytes())?;
    stream.write_all(body)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            if let Ok(value) = u8::from_str_radix(
                std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or(""),
                16,
            ) {
                out.push(value);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a whole response (for the server's own tests).
pub fn get(
    url: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<(u16, HashMap<String, String>, Vec<u8>)> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(host)?;
    let mut request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let mut response_headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            response_headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    Ok((code, response_headers, body))
}
