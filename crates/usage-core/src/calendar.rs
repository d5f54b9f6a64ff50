//! UTC calendar arithmetic: days, months and RFC 3339 text, without a date
//! library (the module ships it to browsers).

/// Milliseconds in an hour.
pub const MS_PER_HOUR: i64 = 3_600_000;
/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// Midnight UTC on the first day of the month `now_ms` falls in.
pub fn start_of_month_utc_ms(now_ms: i64) -> i64 {
    let (year, month, _) = civil_from_days(now_ms.div_euclid(MS_PER_DAY));
    days_from_civil(year, month, 1) * MS_PER_DAY
}

/// `2026-11-22T19:30:00Z` (milliseconds shown only when not zero).
pub fn format_rfc3339_ms(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, milli) = (in_day / 3_600_000, in_day / 60_000 % 60, in_day / 1000 % 60, in_day % 1000);
    if milli == 0 {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar month (UTC) holding `now_ms`: its first instant and the first
/// instant of the next month. Monthly limits count billable events in it.
pub fn month_period_utc_ms(now_ms: i64) -> (i64, i64) {
    let (year, month, _) = civil_from_days(now_ms.div_euclid(MS_PER_DAY));
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    (days_from_civil(year, month, 1) * MS_PER_DAY, days_from_civil(next_year, next_month, 1) * MS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-22T19:30:00Z
    const NOW: i64 = 1_795_375_800_000;
    /// 2026-11-01T00:00:00Z
    const NOV_1: i64 = 1_793_491_200_000;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339_ms(NOW), "2026-11-22T19:30:00Z");
        assert_eq!(format_rfc3339_ms(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn month_starts_are_utc_midnights_on_the_first() {
        assert_eq!(format_rfc3339_ms(start_of_month_utc_ms(951_782_400_000)), "2000-02-01T00:00:00Z");
        assert_eq!(format_rfc3339_ms(start_of_month_utc_ms(1_798_761_599_999)), "2026-12-01T00:00:00Z");
    }

    #[test]
    fn month_periods_are_calendar_months() {
        assert_eq!(month_period_utc_ms(NOW), (NOV_1, 1_796_083_200_000)); // to 2026-12-01
        assert_eq!(format_rfc3339_ms(month_period_utc_ms(1_798_761_599_999).1), "2027-01-01T00:00:00Z");
        assert_eq!(month_period_utc_ms(NOV_1), (NOV_1, 1_796_083_200_000));
    }

    proptest! {
        #[test]
        fn month_start_is_a_first_at_midnight_not_after_now(now in -10_000_000_000_000i64..10_000_000_000_000) {
            let start = start_of_month_utc_ms(now);
            prop_assert!(start <= now);
            prop_assert!(now - start < 31 * MS_PER_DAY);
            let text = format_rfc3339_ms(start);
            prop_assert!(text.ends_with("-01T00:00:00Z"), "{}", text);
        }

        #[test]
        fn days_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn a_month_holds_its_instant(now in -10_000_000_000_000i64..10_000_000_000_000) {
            let (start, end) = month_period_utc_ms(now);
            prop_assert!(start <= now && now < end);
            prop_assert!((28 * MS_PER_DAY..=31 * MS_PER_DAY).contains(&(end - start)));
        }
    }
}
