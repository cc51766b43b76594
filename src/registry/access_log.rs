//! Web server access logs, read for download counts: nginx's (and Apache's) combined format
//! and the S3 server access log format. Every line is untrusted text: one that does not parse
//! is `None`, never a panic.
//!
//! ```text
//! 192.0.2.1 - - [01/Dec/2026:10:00:00 +0000] "GET /hello-1.0.0.psp HTTP/1.1" 200 512 "-" "pandora/0.1"
//! 79a5 bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57 REST.GET.OBJECT hello-1.0.0.psp "GET /bucket/hello-1.0.0.psp HTTP/1.1" 200 - ...
//! ```

/// One request, as much of it as the counts need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Unix time.
    pub time: i64,
    /// Who asked: the address and the user agent.
    pub client: String,
    /// `GET`, `PUT`, `HEAD`, ...
    pub method: String,
    /// The path as requested (for S3, the object key, which is the path without the bucket).
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// Whether it came from an object store's log (which also shows uploads).
    pub object_storage: bool,
}

/// The longest line read; a longer one is not a log line.
pub const LONGEST_LINE: usize = 64 * 1024;

/// Parses one line of either format.
pub fn parse(line: &str) -> Option<Request> {
    if line.len() > LONGEST_LINE {
        return None;
    }
    let fields = split(line)?;
    // Where the `[time]` field is tells the formats apart: third in S3's, fourth in nginx's.
    let bracket = |at: usize| fields.get(at).is_some_and(|field| field.bracketed);
    if bracket(3) {
        combined(&fields)
    } else if bracket(2) {
        object_storage(&fields)
    } else {
        None
    }
}

/// `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
/// "$http_referer" "$http_user_agent"`.
fn combined(fields: &[Field<'_>]) -> Option<Request> {
    let [address, _, _, time, request, status, _, _, agent, ..] = fields else {
        return None;
    };
    let (method, path) = request_line(request.text)?;
    Some(Request {
        time: parse_time(time.text)?,
        client: format!("{} {}", address.text, agent.text),
        method,
        path,
        status: status.text.parse().ok()?,
        object_storage: false,
    })
}

/// `bucket_owner bucket [time] remote_ip requester request_id operation key "request_uri"
/// http_status error_code bytes_sent object_size total_time turnaround_time "referer"
/// "user_agent" ...` (AWS's documented order; later fields are optional).
fn object_storage(fields: &[Field<'_>]) -> Option<Request> {
    let [_, _, time, address, _, _, operation, key, request, status, rest @ ..] = fields else {
        return None;
    };
    let agent = rest.get(6).map_or("-", |field| field.text);
    // What happened to the object, from the operation: a multipart upload is an object
    // written when it completes (`REST.POST.UPLOAD`), not at each part (`REST.PUT.PART`).
    let method = match operation.text {
        "REST.GET.OBJECT" => "GET".to_string(),
        "REST.HEAD.OBJECT" => "HEAD".to_string(),
        "REST.PUT.OBJECT" | "REST.POST.UPLOAD" => "PUT".to_string(),
        other if other.starts_with("REST.") => other.to_string(),
        _ => request_line(request.text)?.0,
    };
    Some(Request {
        time: parse_time(time.text)?,
        client: format!("{} {agent}", address.text),
        method,
        path: key.text.to_string(),
        status: status.text.parse().ok()?,
        object_storage: true,
    })
}

/// `GET /path HTTP/1.1` -> (`GET`, `/path`).
fn request_line(request: &str) -> Option<(String, String)> {
    let mut words = request.split(' ');
    let method = words.next().filter(|method| {
        !method.is_empty() && method.bytes().all(|byte| byte.is_ascii_uppercase())
    })?;
    let path = words.next().filter(|path| !path.is_empty())?;
    Some((method.to_string(), path.to_string()))
}

/// One field of a line: bare up to a space, `[...]` or `"..."` (with `\"` inside).
#[derive(Debug)]
struct Field<'a> {
    text: &'a str,
    bracketed: bool,
}

fn split(line: &str) -> Option<Vec<Field<'_>>> {
    let mut fields = Vec::new();
    let mut rest = line.trim_end_matches(['\r', '\n']);
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return Some(fields);
        }
        let (field, after) = if let Some(inside) = rest.strip_prefix('[') {
            let end = inside.find(']')?;
            (
                Field {
                    text: &inside[..end],
                    bracketed: true,
                },
                &inside[end + 1..],
            )
        } else if let Some(inside) = rest.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (at, byte) in inside.bytes().enumerate() {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => {
                        end = Some(at);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end?;
            (
                Field {
                    text: &inside[..end],
                    bracketed: false,
                },
                &inside[end + 1..],
            )
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            (
                Field {
                    text: &rest[..end],
                    bracketed: false,
                },
                &rest[end..],
            )
        };
        if !(after.is_empty() || after.starts_with(' ')) {
            return None;
        }
        fields.push(field);
        rest = after;
    }
}

/// `01/Dec/2026:10:00:00 +0100` -> Unix time.
fn parse_time(text: &str) -> Option<i64> {
    let (stamp, zone) = text.split_once(' ')?;
    let mut parts = stamp.splitn(4, [':', '/']);
    let day: i64 = number(parts.next()?, 2)?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = number(parts.next()?, 4)?;
    let mut clock = parts.next()?.split(':');
    let hour: i64 = number(clock.next()?, 2)?;
    let minute: i64 = number(clock.next()?, 2)?;
    let second: i64 = number(clock.next()?, 2)?;
    if clock.next().is_some() || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    let (sign, offset) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let offset: i64 = number(offset, 4)?;
    let offset = sign * ((offset / 100) * 3600 + (offset % 100) * 60);
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Exactly `digits` ASCII digits.
fn number(text: &str, digits: usize) -> Option<i64> {
    (text.len() == digits && text.bytes().all(|byte| byte.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_written() {
        assert_eq!(parse_time("01/Jan/1970:00:00:00 +0000"), Some(0));
        assert_eq!(
            parse_time("14/Nov/2023:23:13:20 +0100"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_time("29/Feb/2000:00:00:00 +0000"), Some(951_782_400));
        for bad in [
            "",
            "1/Jan/1970:00:00:00 +0000",
            "01/Foo/1970:00:00:00 +0000",
            "01/Jan/1970:24:00:00 +0000",
            "01/Jan/1970:00:00:00",
            "01/Jan/1970:00:00:00 0000",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn both_formats_parse_and_garbage_does_not() {
        let nginx = parse(
            r#"127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET /a.psp HTTP/1.1" 206 5 "-" "curl \"x\"""#,
        )
        .unwrap();
        assert_eq!(
            (nginx.method.as_str(), nginx.path.as_str(), nginx.status),
            ("GET", "/a.psp", 206)
        );
        assert_eq!(nginx.client, r#"127.0.0.1 curl \"x\""#);
        for bad in [
            "",
            "x",
            "[",
            "\"",
            r#"127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "" 200 5 "-" "-""#,
            r#"127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET /a" abc 5 "-" "-""#,
            r#"127.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET /a"x 200 5 "-" "-""#,
            "a b [01/Dec/2026:10:00:00 +0000] c d e REST.GET.OBJECT",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
