//! Pod logs: `GET /api/v1/namespaces/{ns}/pods/{name}/log` with `container`, `previous`,
//! `tailLines`, `sinceSeconds`, `sinceTime`, `timestamps` and `follow`, answering with the text
//! tests wrote through the side door ([`crate::SideDoor::append_log`]), one log per container and
//! one for its previous (terminated) instance. The pod must exist, and a pod with several
//! containers needs `container`, as the API server requires. A follow stream sends what is
//! appended later and ends when the pod is deleted or the client goes away.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::meta;
use crate::status::ApiError;
use crate::store::Store;

/// One line and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: SystemTime,
    pub text: String,
}

/// The logs of one container: the running instance and the previous one.
#[derive(Debug, Clone, Default)]
pub struct ContainerLogs {
    pub current: Vec<LogLine>,
    pub previous: Vec<LogLine>,
}

/// Namespace, pod, container.
pub type LogKey = (String, String, String);

/// The query parameters of a log request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub container: Option<String>,
    pub previous: bool,
    pub follow: bool,
    pub timestamps: bool,
    pub tail_lines: Option<usize>,
    pub since_seconds: Option<u64>,
    pub since_time: Option<SystemTime>,
}

impl LogQuery {
    /// Reads the query; malformed numbers and times are 400s, as the API server answers.
    pub fn parse(q: &BTreeMap<String, String>) -> Result<LogQuery, ApiError> {
        let truthy = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
        let number = |k: &str| -> Result<Option<i64>, ApiError> {
            q.get(k)
                .map(|v| {
                    v.parse::<i64>().map_err(|_| {
                        ApiError::bad_request(format!("{k}: invalid value {v:?}: not an integer"))
                    })
                })
                .transpose()
        };
        let at_least = |k: &str, min: i64, rule: &str| -> Result<Option<i64>, ApiError> {
            match number(k)? {
                Some(n) if n < min => Err(ApiError::new(
                    422,
                    "Invalid",
                    format!("{k}: Invalid value: {n}: {rule}"),
                )),
                n => Ok(n),
            }
        };
        let tail_lines =
            at_least("tailLines", 0, "must be greater than or equal to 0")?.map(|n| n as usize);
        let since_seconds =
            at_least("sinceSeconds", 1, "must be greater than 0")?.map(|n| n as u64);
        let since_time = q
            .get("sinceTime")
            .map(|t| {
                parse_rfc3339(t).ok_or_else(|| {
                    ApiError::bad_request(format!("sinceTime: invalid RFC 3339 time {t:?}"))
                })
            })
            .transpose()?;
        if since_seconds.is_some() && since_time.is_some() {
            return Err(ApiError::new(
                422,
                "Invalid",
                "at most one of sinceTime or sinceSeconds may be specified",
            ));
        }
        Ok(LogQuery {
            container: q.get("container").filter(|c| !c.is_empty()).cloned(),
            previous: truthy("previous"),
            follow: truthy("follow"),
            timestamps: truthy("timestamps"),
            tail_lines,
            since_seconds,
            since_time,
        })
    }

    /// The lines the query selects, in order: newer than `since`, then the last `tailLines`.
    pub fn select<'a>(&self, lines: &'a [LogLine], now: SystemTime) -> Vec<&'a LogLine> {
        let since = self
            .since_time
            .or_else(|| {
                self.since_seconds
                    .and_then(|s| now.checked_sub(Duration::from_secs(s)))
            })
            .unwrap_or(UNIX_EPOCH);
        let newer: Vec<&LogLine> = lines.iter().filter(|l| l.at >= since).collect();
        let skip = self.tail_lines.map_or(0, |n| newer.len().saturating_sub(n));
        newer.into_iter().skip(skip).collect()
    }

    /// A line as the response carries it (with its RFC 3339 time first under `timestamps`).
    pub fn render(&self, line: &LogLine) -> String {
        if self.timestamps {
            format!("{} {}\n", rfc3339_nano(line.at), line.text)
        } else {
            format!("{}\n", line.text)
        }
    }
}

/// The container a request reads: the one named (which the pod must have), else the pod's only
/// container.
pub fn container_of(pod: &Value, wanted: Option<&str>) -> Result<String, ApiError> {
    let name = meta::name(pod);
    let containers: Vec<&str> = ["/spec/initContainers", "/spec/containers"]
        .iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    match wanted {
        Some(c) if containers.contains(&c) => Ok(c.to_owned()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None => {
            let main: Vec<&str> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect();
            match main.as_slice() {
                [only] => Ok((*only).to_owned()),
                [] => Err(ApiError::bad_request(format!(
                    "pod {name} has no containers"
                ))),
                many => Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    many.join(" ")
                ))),
            }
        }
    }
}

/// The first answer to a log request: the selected text, and how many lines of the container's
/// log it has seen (where a follow stream continues).
pub fn read(
    store: &Arc<Mutex<Store>>,
    namespace: &str,
    pod: &str,
    q: &LogQuery,
) -> Result<(String, LogKey, usize), ApiError> {
    let s = store.lock().unwrap_or_else(|p| p.into_inner());
    let rt = s
        .registry
        .by_resource("", "v1", "pods")
        .ok_or_else(|| ApiError::not_found("pods", "", pod))?;
    let object = s.get_or_404(&rt, namespace, pod)?;
    let container = container_of(&object, q.container.as_deref())?;
    let key = (namespace.to_owned(), pod.to_owned(), container.clone());
    let logs = s.side.logs.get(&key);
    let lines: &[LogLine] = match (logs, q.previous) {
        (Some(l), true) if !l.previous.is_empty() => &l.previous,
        (_, true) => {
            return Err(ApiError::bad_request(format!(
                "previous terminated container {container:?} in pod {pod:?} not found"
            )));
        }
        (Some(l), false) => &l.current,
        (None, false) => &[],
    };
    let text: String = q
        .select(lines, SystemTime::now())
        .into_iter()
        .map(|l| q.render(l))
        .collect();
    Ok((text, key, lines.len()))
}

/// For a follow stream: the lines appended after `seen`, and the new count; `None` when the pod
/// is gone (the stream ends).
pub fn more(store: &Arc<Mutex<Store>>, key: &LogKey, seen: usize) -> Option<(Vec<LogLine>, usize)> {
    let s = store.lock().unwrap_or_else(|p| p.into_inner());
    let rt = s.registry.by_resource("", "v1", "pods")?;
    s.get(&rt, &key.0, &key.1)?;
    let lines = s
        .side
        .logs
        .get(key)
        .map(|l| l.current.as_slice())
        .unwrap_or(&[]);
    let new = lines.get(seen..).unwrap_or(&[]).to_vec();
    Some((new, lines.len().max(seen)))
}

/// `2026-12-04T18:00:00.123456789Z`.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let nanos = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let secs = meta::rfc3339(t);
    format!("{}.{nanos:09}Z", secs.trim_end_matches('Z'))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.chars().take_while(char::is_ascii_digit).count();
        let padded = format!("{:0<9}", &frac[..digits.min(9)]);
        nanos = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let v = num_at(o, 1..3)? * 3600 + num_at(o, 4..6)? * 60;
            if o.starts_with('-') { -v } else { v }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

fn num_at(text: &str, r: std::ops::Range<usize>) -> Option<i64> {
    text.get(r)?.parse().ok()
}

/// (year, month, day), proleptic Gregorian, to days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(secs: u64, text: &str) -> LogLine {
        LogLine {
            at: UNIX_EPOCH + Duration::from_secs(secs),
            text: text.into(),
        }
    }

    #[test]
    fn times_round_trip() {
        let t = parse_rfc3339("2026-12-04T18:00:01.5Z").expect("parses");
        assert_eq!(rfc3339_nano(t), "2026-12-04T18:00:01.500000000Z");
        assert_eq!(
            parse_rfc3339("2026-12-04T20:00:01+02:00"),
            parse_rfc3339("2026-12-04T18:00:01Z")
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn since_then_tail() {
        let lines = [line(10, "a"), line(20, "b"), line(30, "c")];
        let now = UNIX_EPOCH + Duration::from_secs(35);
        let q = LogQuery {
            since_seconds: Some(20),
            ..LogQuery::default()
        };
        let picked: Vec<&str> = q
            .select(&lines, now)
            .iter()
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(picked, ["b", "c"]);
        let q = LogQuery {
            tail_lines: Some(1),
            ..LogQuery::default()
        };
        let picked: Vec<&str> = q
            .select(&lines, now)
            .iter()
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(picked, ["c"]);
    }

    #[test]
    fn a_pod_with_two_containers_needs_one_named() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let e = container_of(&pod, None).expect_err("ambiguous");
        assert_eq!(e.code, 400);
        assert!(e.message.contains("choose one of: [a b]"), "{}", e.message);
        assert_eq!(container_of(&pod, Some("b")).expect("named"), "b");
        assert!(container_of(&pod, Some("c")).is_err());
    }
}
