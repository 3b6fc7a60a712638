use super::*;

#[test]
fn durations_print_as_go_prints_them() {
    for (nanos, want) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (2_000_000, "2ms"),
        (1_500_000_000, "1.5s"),
        (95_000_000_000, "1m35s"),
        (3_600_000_000_000, "1h0m0s"),
        (-90_000_000_000, "-1m30s"),
    ] {
        assert_eq!(format_duration(nanos), want, "{nanos}");
    }
}

#[test]
fn durations_parse_as_go_parses_them() {
    assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
    assert_eq!(parse_duration("-2m3s"), Ok(-123_000_000_000));
    assert_eq!(parse_duration("0"), Ok(0));
    assert_eq!(
        parse_duration("1"),
        Err("time: missing unit in duration \"1\"".to_owned())
    );
    assert_eq!(
        parse_duration("1d"),
        Err("time: unknown unit \"d\" in duration \"1d\"".to_owned())
    );
    assert_eq!(
        parse_duration("x"),
        Err("time: invalid duration \"x\"".to_owned())
    );
}

#[test]
fn now_prints_as_go_time_string_with_a_monotonic_reading() {
    let t = Time::now();
    let s = t.format();
    let re =
        regex::Regex::new(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC m=\+\d+\.\d{9}$")
            .expect("pattern");
    assert!(re.is_match(&s), "{s}");
    let unix = t.call_method("Unix", &[]).expect("Unix");
    let Value::Int(secs, IntType::Int64) = unix else {
        panic!("{unix:?}")
    };
    assert!((secs - now_unix().0).abs() <= 1);
}

#[test]
fn civil_dates_round_trip_through_days() {
    for days in [-719_162, -1, 0, 59, 11_016, 19_783, 2_932_896] {
        let c = Civil::from_unix(days * 86_400, 0);
        assert_eq!(layout::days_from_civil(c.year, c.month, c.day), days);
    }
    let zero = Civil::from_unix(ZERO_UNIX, 0);
    assert_eq!((zero.year, zero.month, zero.day, zero.wday), (1, 1, 1, 1));
}

#[test]
fn zone_rules_past_the_last_transition_follow_the_footer() {
    let Some(z) = zone::load("America/New_York") else {
        return; // No tz database here: Go would fall back to UTC too.
    };
    // 2100-07-01 and 2100-01-01, past the table of a fat TZif file.
    let summer = layout::days_from_civil(2100, 7, 1) * 86_400;
    let winter = layout::days_from_civil(2100, 1, 1) * 86_400;
    assert_eq!(z.lookup(summer).seconds, -4 * 3600);
    assert_eq!(z.lookup(summer).abbreviation, "EDT");
    assert_eq!(z.lookup(winter).seconds, -5 * 3600);
    // The change itself: 2100-03-14 02:00 EST is 07:00 UTC.
    let change = layout::days_from_civil(2100, 3, 14) * 86_400 + 7 * 3600;
    assert_eq!(z.lookup(change - 1).abbreviation, "EST");
    assert_eq!(z.lookup(change).abbreviation, "EDT");
}
