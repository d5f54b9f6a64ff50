//! Folding counted rows into the answers of the breakdown, the vendor's view and
//! the CSV exports. Pure functions over [`CountRow`]s, so every view of the same
//! rows agrees: series and origins always sum to the totals.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use usage_core::wire::{
    AdminUsageResponse, BreakdownResponse, KindCounts, LicenseUsage, LicensedOriginCounts, LimitStatus, OriginCounts,
    SeriesBucket, UnpaidUsage, UsageCounts,
};
use usage_core::{format_rfc3339_ms, Granularity, UsageRange, FREE_LICENSE};

use crate::store::{Account, CountRow, KeyId, KeyInfo, FOLDED_ORIGIN};

/// How many origins a licensee's breakdown lists before summing the rest.
pub const BREAKDOWN_ORIGINS: usize = 50;
/// How many (origin, licence) pairs, and unlicensed or free-license origins, the
/// vendor's view lists.
pub const ADMIN_ORIGINS: usize = 100;
/// How many origins a key was used on without being allowed each licence lists.
pub const NOT_ALLOWED_ORIGINS: usize = 20;

/// Every bucket of `range`, oldest first, empty ones included.
pub fn series<'a>(rows: impl IntoIterator<Item = &'a CountRow>, range: &UsageRange) -> Vec<SeriesBucket> {
    let mut buckets: Vec<SeriesBucket> =
        range.bucket_starts().map(|start| SeriesBucket { start, counts: KindCounts::default() }).collect();
    let (first, size) = (buckets.first().map_or(0, |bucket| bucket.start), range.granularity.bucket_ms());
    // Buckets are evenly spaced, so a row's is found by arithmetic; a row outside
    // them (none a store returns) still gets its own.
    let mut outside: BTreeMap<i64, KindCounts> = BTreeMap::new();
    for row in rows {
        let offset = row.bucket_start - first;
        let index = usize::try_from(offset / size).ok().filter(|_| offset % size == 0);
        match index.and_then(|index| buckets.get_mut(index)) {
            Some(bucket) => bucket.counts.add(row.kind, row.classification, row.count),
            None => outside.entry(row.bucket_start).or_default().add(row.kind, row.classification, row.count),
        }
    }
    if !outside.is_empty() {
        buckets.extend(outside.into_iter().map(|(start, counts)| SeriesBucket { start, counts }));
        buckets.sort_by_key(|bucket| bucket.start);
    }
    buckets
}

/// Counts per kind over all `rows`.
pub fn totals<'a>(rows: impl IntoIterator<Item = &'a CountRow>) -> KindCounts {
    KindCounts::from_counts(rows.into_iter().map(|row| (row.kind, row.classification, row.count)))
}

/// Counts per `group` (all kinds), in group order. Rows of one group mostly come
/// one after another (a store's rows are sorted by account and origin), so runs
/// are summed first and only the runs' sums sorted.
fn grouped<'a, G: Ord>(
    rows: impl IntoIterator<Item = &'a CountRow>,
    group: impl Fn(&'a CountRow) -> G,
) -> Vec<(G, UsageCounts)> {
    let mut runs: Vec<(G, UsageCounts)> = Vec::new();
    for row in rows {
        let key = group(row);
        match runs.last_mut() {
            Some((last, counts)) if *last == key => counts.add(row.classification, row.count),
            _ => {
                let mut counts = UsageCounts::default();
                counts.add(row.classification, row.count);
                runs.push((key, counts));
            }
        }
    }
    runs.sort_by(|(a, _), (b, _)| a.cmp(b));
    let mut groups: Vec<(G, UsageCounts)> = Vec::with_capacity(runs.len());
    for (key, counts) in runs {
        match groups.last_mut() {
            Some((last, sum)) if *last == key => sum.add_all(&counts),
            _ => groups.push((key, counts)),
        }
    }
    groups
}

/// Counts per `group` (all kinds), busiest first; ties in group order.
fn ranked<'a, G: Ord>(
    rows: impl IntoIterator<Item = &'a CountRow>,
    group: impl Fn(&'a CountRow) -> G,
) -> Vec<(G, UsageCounts)> {
    let mut ranked = grouped(rows, group);
    // Stable: ties keep the group order.
    ranked.sort_by_key(|(_, counts)| Reverse(counts.total()));
    ranked
}

/// Origins, busiest first, as a view lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginList {
    /// The busiest origins, at most the limit asked for.
    pub top: Vec<OriginCounts>,
    /// The sum of every origin not listed.
    pub other: UsageCounts,
    /// Events counted under [`FOLDED_ORIGIN`] (past the daily cap on new
    /// origins): never listed as an origin.
    pub folded: UsageCounts,
}

/// The `limit` busiest origins, the sum of all others, and what was folded.
pub fn top_origins<'a>(rows: impl IntoIterator<Item = &'a CountRow>, limit: usize) -> OriginList {
    let mut list = OriginList::default();
    for (origin, counts) in ranked(rows, |row| row.origin.as_deref()) {
        if origin == Some(FOLDED_ORIGIN) {
            list.folded = counts;
        } else if list.top.len() < limit {
            list.top.push(OriginCounts { origin: origin.map(str::to_owned), counts });
        } else {
            list.other.add_all(&counts);
        }
    }
    list
}

/// What a view is folded from: counts per bucket (origins summed) and per origin
/// (buckets summed), or the same detailed rows for both.
#[derive(Debug, Clone, Copy)]
pub struct Counted<'a> {
    /// Rows whose buckets count (origins may be summed; for the vendor's view,
    /// accounts too).
    pub by_time: &'a [CountRow],
    /// Rows whose origins count (buckets may be summed).
    pub by_origin: &'a [CountRow],
    /// A licensee's breakdown: its key's rows on origins it is not allowed on
    /// (everyone's view finds them in `by_origin`).
    pub not_allowed: &'a [CountRow],
}

/// A licensee's breakdown of one key's rows.
pub fn breakdown(rows: Counted<'_>, range: &UsageRange, limit: Option<LimitStatus>) -> BreakdownResponse {
    let origins = top_origins(rows.by_origin, BREAKDOWN_ORIGINS);
    BreakdownResponse {
        success: true,
        since: range.since_ms,
        until: range.until_ms,
        granularity: range.granularity,
        series: series(rows.by_time, range),
        origins: origins.top,
        other_origins: origins.other,
        folded_origins: origins.folded,
        not_allowed_origins: top_origins(rows.not_allowed, BREAKDOWN_ORIGINS).top,
        totals: totals(rows.by_time),
        limit,
    }
}

/// What the vendor's view needs to know about each key besides its rows.
pub struct KeyLimits<'a> {
    /// Every key pair, oldest first.
    pub keys: &'a [KeyInfo],
    /// Billable events per key in the current calendar month.
    pub used_this_month: &'a HashMap<KeyId, u64>,
    /// The current calendar month.
    pub period: (i64, i64),
}

/// The vendor's view: `counted.by_time` may be summed over accounts (only the
/// series reads it); each account's totals come from `counted.by_origin`.
pub fn admin_usage(counted: Counted<'_>, range: &UsageRange, keys: &KeyLimits<'_>) -> AdminUsageResponse {
    let by_origin = counted.by_origin;
    let names: HashMap<KeyId, &str> = keys.keys.iter().map(|key| (key.id, key.name.as_str())).collect();
    // Every account's totals in one pass (not one pass per licence), one lookup
    // per run of an account's rows.
    let mut per_account: BTreeMap<Option<Account>, (KindCounts, UsageCounts)> = BTreeMap::new();
    // Each key's rows on origins it is not allowed on, gathered in the same pass
    // (not one pass over every row per licence).
    let mut not_allowed: HashMap<KeyId, Vec<&CountRow>> = HashMap::new();
    for run in by_origin.chunk_by(|a, b| a.account == b.account) {
        if let Some(Account::NotAllowed(id)) = run[0].account {
            not_allowed.entry(id).or_default().extend(run);
        }
        let (totals, folded) = per_account.entry(run[0].account).or_default();
        for row in run {
            totals.add(row.kind, row.classification, row.count);
            if row.origin.as_deref() == Some(FOLDED_ORIGIN) {
                folded.add(row.classification, row.count);
            }
        }
    }
    let totals_of = |account: Account| per_account.get(&Some(account)).cloned().unwrap_or_default();
    let licenses = keys
        .keys
        .iter()
        .map(|key| {
            let (totals, folded_origins) = totals_of(Account::Key(key.id));
            let not_allowed_rows = not_allowed.get(&key.id).into_iter().flatten().copied();
            LicenseUsage {
                name: key.name.clone(),
                public_key: key.public_key.clone(),
                revoked: key.revoked_at_ms.is_some(),
                totals,
                folded_origins,
                not_allowed_origins: top_origins(not_allowed_rows, NOT_ALLOWED_ORIGINS).top,
                limit: key.monthly_limit.map(|monthly| {
                    LimitStatus::new(monthly, keys.used_this_month.get(&key.id).copied().unwrap_or(0), keys.period)
                }),
            }
        })
        .collect();
    let unpaid = |account: Account| {
        let origins = top_origins(by_origin.iter().filter(|row| row.account == Some(account)), ADMIN_ORIGINS);
        UnpaidUsage { totals: totals_of(account).0, origins: origins.top, folded_origins: origins.folded }
    };
    // Grouped by account, then named (one name lookup per pair, not per row),
    // then ranked with ties in (origin, licence name) order; folded events are
    // no origin and are told per account above.
    let mut pairs: Vec<(OriginAndLicence<'_>, UsageCounts)> =
        grouped(by_origin.iter().filter(|row| row.origin.as_deref() != Some(FOLDED_ORIGIN)), |row| {
            (row.origin.as_deref(), row.account)
        })
        .into_iter()
        .map(|((origin, account), counts)| {
            let licence = account.and_then(|account| licence_name(account, &names));
            ((origin, licence, account.is_some_and(is_not_allowed)), counts)
        })
        .collect();
    pairs.sort_by(|(a, a_counts), (b, b_counts)| b_counts.total().cmp(&a_counts.total()).then_with(|| a.cmp(b)));
    let origins = pairs
        .into_iter()
        .take(ADMIN_ORIGINS)
        .map(|((origin, license, not_allowed), counts)| LicensedOriginCounts {
            origin: origin.map(str::to_owned),
            license: license.map(Cow::into_owned),
            not_allowed,
            counts,
        })
        .collect();
    AdminUsageResponse {
        success: true,
        since: range.since_ms,
        until: range.until_ms,
        granularity: range.granularity,
        licenses,
        unlicensed: unpaid(Account::Unlicensed),
        free_license: unpaid(Account::FreeLicense),
        series: series(counted.by_time, range),
        origins,
    }
}

/// An origin (if the events carried one), the licence whose key it used, and
/// whether the key is not allowed there.
type OriginAndLicence<'a> = (Option<&'a str>, Option<Cow<'a, str>>, bool);

fn is_not_allowed(account: Account) -> bool {
    matches!(account, Account::NotAllowed(_))
}

/// How a key's use on origins it is not allowed on is named in the CSV export.
pub const NOT_ALLOWED_SUFFIX: &str = "(origin not allowed)";

/// The key's name (with [`NOT_ALLOWED_SUFFIX`] for its use where it is not
/// allowed), `free-license`, or `None` for unlicensed events.
fn licence_name<'a>(account: Account, names: &HashMap<KeyId, &'a str>) -> Option<Cow<'a, str>> {
    match account {
        Account::Key(id) => {
            Some(names.get(&id).map_or_else(|| Cow::Owned(format!("key #{}", id.0)), |name| Cow::Borrowed(*name)))
        }
        Account::NotAllowed(id) => {
            let name = names.get(&id).map_or_else(|| format!("key #{}", id.0), |name| (*name).to_owned());
            Some(Cow::Owned(format!("{name} {NOT_ALLOWED_SUFFIX}")))
        }
        Account::FreeLicense => Some(Cow::Borrowed(FREE_LICENSE)),
        Account::Unlicensed => None,
    }
}

/// One CSV line, in the order lines are sorted.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct CsvLine<'a> {
    bucket_start: i64,
    license: Option<String>,
    origin: Option<&'a str>,
    event: &'static str,
    classification: &'static str,
    count: u64,
}

/// `day,origin,event,classification,count` rows (`hour,…` for hourly ranges),
/// with a `license` column after the first when `names` is given (the vendor's
/// export). Sorted by time, then licence, origin, event and classification.
pub fn csv(rows: &[CountRow], range: &UsageRange, names: Option<&[KeyInfo]>) -> String {
    let csv = Csv::new(range.granularity, names);
    csv.header() + &csv.lines(rows)
}

/// A CSV export written in parts: the header, then the lines of each run of
/// buckets in time order (the export streams one day at a time).
#[derive(Debug, Clone)]
pub struct Csv {
    granularity: Granularity,
    /// Each key's name, for the vendor's export (`license` column); `None` for a licensee's.
    names: Option<HashMap<KeyId, String>>,
}

impl Csv {
    /// The export of `granularity`'s buckets; with `names`, the vendor's.
    pub fn new(granularity: Granularity, names: Option<&[KeyInfo]>) -> Self {
        let names = names.map(|keys| keys.iter().map(|key| (key.id, key.name.clone())).collect());
        Csv { granularity, names }
    }

    /// The first line.
    pub fn header(&self) -> String {
        let period = match self.granularity {
            Granularity::Day => "day",
            Granularity::Hour => "hour",
        };
        let license_header = if self.names.is_some() { ",license" } else { "" };
        format!("{period}{license_header},origin,event,classification,count\r\n")
    }

    /// The lines of `rows`, sorted.
    pub fn lines(&self, rows: &[CountRow]) -> String {
        let names: Option<HashMap<KeyId, &str>> =
            self.names.as_ref().map(|names| names.iter().map(|(id, name)| (*id, name.as_str())).collect());
        let mut lines: Vec<CsvLine<'_>> = rows
            .iter()
            .map(|row| CsvLine {
                bucket_start: row.bucket_start,
                license: names
                    .as_ref()
                    .zip(row.account)
                    .and_then(|(names, account)| licence_name(account, names))
                    .map(Cow::into_owned),
                origin: row.origin.as_deref(),
                event: row.kind.as_str(),
                classification: row.classification.as_str(),
                count: row.count,
            })
            .collect();
        lines.sort();
        let time_len = match self.granularity {
            Granularity::Day => "2026-01-01".len(),
            Granularity::Hour => "2026-01-01T00:00:00Z".len(),
        };
        let mut out = String::new();
        for line in lines {
            out.push_str(&format_rfc3339_ms(line.bucket_start)[..time_len]);
            if names.is_some() {
                out.push(',');
                out.push_str(&csv_field(line.license.as_deref().unwrap_or("")));
            }
            out.push(',');
            out.push_str(&csv_field(line.origin.unwrap_or("")));
            out.push_str(&format!(",{},{},{}\r\n", line.event, line.classification, line.count));
        }
        out
    }
}

/// RFC 4180 quoting; a leading `=`, `+`, `-` or `@` is defused with `'` so a
/// spreadsheet never runs a key name as a formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use usage_core::{Classification, EventKind, MS_PER_DAY};

    use super::*;

    const NOW: i64 = 1_795_375_800_000; // 2026-11-22T19:30:00Z
    const NOV_20: i64 = 1_795_132_800_000;

    fn row(account: Account, day: i64, origin: Option<&str>, classification: Classification, count: u64) -> CountRow {
        CountRow {
            account: Some(account),
            bucket_start: NOV_20 + day * MS_PER_DAY,
            origin: origin.map(Arc::from),
            kind: EventKind::WebcodecConversion,
            classification,
            count,
        }
    }

    fn range() -> UsageRange {
        UsageRange::resolve(Some(NOV_20 + 1), None, None, NOW).unwrap()
    }

    #[test]
    fn series_has_every_bucket_and_sums_to_the_totals() {
        let key = Account::Key(KeyId(1));
        let rows = vec![
            row(key, 0, Some("https://a.com"), Classification::Billable, 3),
            row(key, 2, None, Classification::Failed, 1),
        ];
        let answer = breakdown(Counted { by_time: &rows, by_origin: &rows, not_allowed: &[] }, &range(), None);
        assert_eq!(
            answer.series.iter().map(|b| b.start).collect::<Vec<_>>(),
            vec![NOV_20, NOV_20 + MS_PER_DAY, NOV_20 + 2 * MS_PER_DAY]
        );
        assert_eq!(answer.series[1].counts, KindCounts::default());
        assert_eq!(answer.totals.webcodec_conversions, UsageCounts { billable: 3, development: 0, failed: 1 });
        let mut summed = UsageCounts::default();
        for bucket in &answer.series {
            summed.add_all(&bucket.counts.webcodec_conversions);
        }
        assert_eq!(summed, answer.totals.webcodec_conversions);
    }

    #[test]
    fn origins_are_ranked_and_the_rest_summed() {
        let key = Account::Key(KeyId(1));
        let mut rows: Vec<CountRow> = (0..60)
            .map(|i| row(key, 0, Some(&format!("https://site{i:02}.com")), Classification::Billable, 1 + i / 10))
            .collect();
        rows.push(row(key, 1, None, Classification::Development, 100));
        rows.push(row(key, 1, Some(FOLDED_ORIGIN), Classification::Billable, 1000));
        let OriginList { top, other, folded } = top_origins(&rows, BREAKDOWN_ORIGINS);
        // Folded events are told apart, never listed as an origin however many.
        assert_eq!(folded, UsageCounts { billable: 1000, development: 0, failed: 0 });
        assert!(top.iter().all(|origin| origin.origin.as_deref() != Some(FOLDED_ORIGIN)));
        assert_eq!(top.len(), 50);
        assert_eq!(top[0].origin, None);
        assert_eq!(top[0].counts.development, 100);
        // 6 events, first by name.
        assert_eq!(top[1].origin.as_deref(), Some("https://site50.com"));
        // The 11 least busy are summed: site00..site09 (1 event each) and site19
        // (2 events, last by name among the 2s).
        assert_eq!(other, UsageCounts { billable: 12, development: 0, failed: 0 });
        assert_eq!(top.last().unwrap().origin.as_deref(), Some("https://site18.com"));
    }

    #[test]
    fn the_vendor_sees_licences_and_unpaid_origins_apart() {
        let keys = vec![KeyInfo {
            id: KeyId(7),
            name: "acme".into(),
            public_key: "rm_pub_a".into(),
            keys: Vec::new(),
            monthly_limit: Some(2),
            allowed_origins: Default::default(),
            created_at_ms: 0,
            revoked_at_ms: None,
        }];
        let rows = vec![
            row(Account::Key(KeyId(7)), 0, Some("https://acme.com"), Classification::Billable, 3),
            row(Account::Unlicensed, 0, Some("https://pirate.com"), Classification::Billable, 5),
            row(Account::FreeLicense, 1, Some("https://hobby.dev"), Classification::Billable, 1),
        ];
        let used = HashMap::from([(KeyId(7), 3)]);
        let counted = Counted { by_time: &rows, by_origin: &rows, not_allowed: &[] };
        let view = admin_usage(counted, &range(), &KeyLimits { keys: &keys, used_this_month: &used, period: (1, 2) });
        assert_eq!(view.licenses[0].totals.webcodec_conversions.billable, 3);
        assert_eq!(view.licenses[0].limit, Some(LimitStatus::new(2, 3, (1, 2))));
        assert_eq!(view.unlicensed.origins[0].origin.as_deref(), Some("https://pirate.com"));
        assert_eq!(view.free_license.totals.webcodec_conversions.billable, 1);
        let pairs: Vec<(Option<&str>, Option<&str>)> =
            view.origins.iter().map(|o| (o.origin.as_deref(), o.license.as_deref())).collect();
        assert_eq!(
            pairs,
            vec![
                (Some("https://pirate.com"), None),
                (Some("https://acme.com"), Some("acme")),
                (Some("https://hobby.dev"), Some("free-license"))
            ]
        );
    }

    #[test]
    fn csv_rows_are_sorted_quoted_and_defused() {
        let keys = vec![KeyInfo {
            id: KeyId(7),
            name: "=cmd,\"x\"".into(),
            public_key: "rm_pub_a".into(),
            keys: Vec::new(),
            monthly_limit: None,
            allowed_origins: Default::default(),
            created_at_ms: 0,
            revoked_at_ms: None,
        }];
        let rows = vec![
            row(Account::Key(KeyId(7)), 1, Some("https://a.com"), Classification::Billable, 2),
            row(Account::Unlicensed, 0, None, Classification::Failed, 1),
        ];
        assert_eq!(
            csv(&rows, &range(), None),
            "day,origin,event,classification,count\r\n\
             2026-11-20,,webcodec-conversion,failed,1\r\n\
             2026-11-21,https://a.com,webcodec-conversion,billable,2\r\n"
        );
        assert_eq!(
            csv(&rows, &range(), Some(&keys)),
            "day,license,origin,event,classification,count\r\n\
             2026-11-20,,,webcodec-conversion,failed,1\r\n\
             2026-11-21,\"'=cmd,\"\"x\"\"\",https://a.com,webcodec-conversion,billable,2\r\n"
        );
    }
}
