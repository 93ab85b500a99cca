//! What HTCondor's job event log (`logs/casa.log`, the userlog text format) says about one
//! DAG node's job: how long its last run took, from its execute (001) to its termination (005)
//! event. Each event is a header line `NNN (cluster.proc.subproc) DATE TIME text`, some body
//! lines (a submit event's carry `DAG Node: NAME`) and a `...` line.

/// Seconds from the last execute event to the termination event of the node's last submitted
/// job (`None` when the log has no such pair). Log times are the schedd's local time without
/// a zone; their difference does not need one.
pub fn node_run_seconds(text: &str, node: &str) -> Option<f64> {
    let mut job: Option<&str> = None;
    let mut header: Option<(&str, &str)> = None;
    let (mut executed, mut terminated) = (None, None);
    for line in text.lines() {
        if let Some((code, rest)) = line.split_once(' ').filter(|(c, _)| is_code(c)) {
            let Some((id, when)) = rest.strip_prefix('(').and_then(|r| r.split_once(") ")) else {
                continue;
            };
            header = Some((code, id));
            if Some(id) == job {
                match code {
                    "001" => (executed, terminated) = (seconds(when), None),
                    "005" => terminated = seconds(when),
                    _ => {}
                }
            }
            continue;
        }
        let named = line.trim().strip_prefix("DAG Node:").map(str::trim);
        if let (Some(name), Some(("000", id))) = (named, header) {
            if name == node {
                // A new submission of the node: forget the times of the one before.
                (job, executed, terminated) = (Some(id), None, None);
            }
        }
    }
    Some((terminated? - executed?).max(0.0))
}

/// The DAG nodes whose last submitted job is executing now (its last event an execute, 001,
/// or a reconnect after it), by name.
pub fn running_nodes(text: &str) -> std::collections::BTreeSet<String> {
    let mut job_of: std::collections::BTreeMap<&str, &str> = Default::default();
    let mut last: std::collections::BTreeMap<&str, &str> = Default::default();
    let mut header: Option<(&str, &str)> = None;
    for line in text.lines() {
        if let Some((code, rest)) = line.split_once(' ').filter(|(c, _)| is_code(c)) {
            if let Some((id, _)) = rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
                header = Some((code, id));
                // Image size (006), attribute updates (028, 033), disconnects (022, 023) say
                // nothing new about whether it runs.
                if !matches!(code, "006" | "022" | "023" | "028" | "033") {
                    last.insert(id, code);
                }
            }
            continue;
        }
        let named = line.trim().strip_prefix("DAG Node:").map(str::trim);
        if let (Some(name), Some(("000", id))) = (named, header) {
            job_of.insert(name, id);
        }
    }
    job_of
        .into_iter()
        .filter(|(_, id)| last.get(id) == Some(&"001"))
        .map(|(node, _)| node.to_string())
        .collect()
}

fn is_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Seconds since an arbitrary origin of `YYYY-MM-DD HH:MM:SS[.fff]` (also with a `T`) or the
/// old `MM/DD HH:MM:SS` (year unknown: taken as 2000), at the start of `s`.
fn seconds(s: &str) -> Option<f64> {
    let num = |t: &str| t.parse::<i64>().ok();
    let (date, rest) = s.split_once([' ', 'T'])?;
    let (y, m, d) = match date.split(['-', '/']).collect::<Vec<_>>()[..] {
        [y, m, d] => (num(y)?, num(m)?, num(d)?),
        [m, d] => (2000, num(m)?, num(d)?),
        _ => return None,
    };
    let time = rest.split_whitespace().next()?;
    let time = time.trim_end_matches('Z');
    let time = time.split(['+']).next()?;
    let mut hms = time.split(':');
    let (h, mi) = (num(hms.next()?)?, num(hms.next()?)?);
    let sec: f64 = hms.next()?.parse().ok()?;
    Some((days_from_civil(y, m, d) * 86_400 + h * 3_600 + mi * 60) as f64 + sec)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "000 (101.000.000) 2026-12-31 23:50:00 Job submitted from host: <127.0.0.1:9618>\n    DAG Node: leaf-000000\n...\n\
000 (102.000.000) 2026-12-31 23:50:01 Job submitted from host: <127.0.0.1:9618>\n    DAG Node: leaf-000001\n...\n\
001 (101.000.000) 2026-12-31 23:59:00 Job executing on host: <10.0.0.5:9618>\n...\n\
001 (102.000.000) 2026-12-31 23:59:30 Job executing on host: <10.0.0.5:9618>\n...\n\
005 (101.000.000) 2027-01-01 00:19:00 Job terminated.\n\t(1) Normal termination (return value 0)\n...\n";

    #[test]
    fn the_run_time_of_a_nodes_last_job() {
        assert_eq!(node_run_seconds(LOG, "leaf-000000"), Some(1200.0));
        // Running, not terminated yet; never submitted.
        assert_eq!(node_run_seconds(LOG, "leaf-000001"), None);
        assert_eq!(node_run_seconds(LOG, "leaf-000002"), None);
        // A second submission (a retry) replaces the first.
        let retry = format!("{LOG}000 (103.000.000) 2027-01-01 00:20:00 Job submitted from host: <x>\n    DAG Node: leaf-000000\n...\n\
001 (103.000.000) 2027-01-01 00:21:00 Job executing on host: <x>\n...\n005 (103.000.000) 2027-01-01 00:21:42 Job terminated.\n...\n");
        assert_eq!(node_run_seconds(&retry, "leaf-000000"), Some(42.0));
        // Old dates, sub-second ones.
        assert_eq!(
            seconds("12/31 23:59:59").unwrap() + 1.0,
            seconds("01/01 00:00:00").unwrap() + 366.0 * 86_400.0
        );
        assert_eq!(
            seconds("2026-01-02T00:00:00.5").unwrap() - seconds("2026-01-01 00:00:00").unwrap(),
            86_400.5
        );
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        // leaf-000000 terminated, leaf-000001 runs.
        let running: Vec<String> = running_nodes(LOG).into_iter().collect();
        assert_eq!(running, ["leaf-000001"]);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }
}
