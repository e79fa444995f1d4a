use super::*;

fn one<'a>(all: &'a [MetricSummary], key: &str) -> &'a MetricSummary {
    all.iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("no {key}"))
}

/// Issue 12: last, best by direction and the step of each; axes are not metrics; keys in the
/// order they first appear; a key the name says nothing about has no best.
#[test]
fn summaries_follow_each_keys_direction() {
    let lines = [
        r#"{"step": 1, "epoch": 0, "loss": 2.0, "acc": 0.1, "lr": 0.1, "phase": "train"}"#,
        r#"{"step": 2, "loss": 1.0, "acc": 0.5, "lr": 0.05}"#,
        r#"{"step": 3, "loss": 1.5, "acc": 0.4}"#,
        r#"{"step": 4, "val_loss": 0.9}"#,
        r#"[1, 2]"#,
    ];
    let all = summarize(lines.into_iter(), &[], &[]);
    let keys: Vec<&str> = all.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["loss", "acc", "lr", "val_loss"]);
    let loss = one(&all, "loss");
    assert_eq!(
        (loss.count, loss.last, loss.last_step),
        (3, Some(1.5), Some(3.0))
    );
    assert_eq!((loss.best, loss.best_step), (Some(1.0), Some(2.0)));
    assert_eq!(loss.direction, "min");
    let acc = one(&all, "acc");
    assert_eq!(
        (acc.best, acc.best_step, acc.direction.as_str()),
        (Some(0.5), Some(2.0), "max")
    );
    let lr = one(&all, "lr");
    assert_eq!(
        (lr.best, lr.last, lr.direction.as_str()),
        (None, Some(0.05), "none")
    );
    assert_eq!(one(&all, "val_loss").last_step, Some(4.0));
    assert!(all
        .iter()
        .all(|s| s.steps_per_s.is_none() && s.step_time_p95_s.is_none()));
}

/// Issue 12: `[archive] minimize` / `maximize` override the name's direction.
#[test]
fn overrides_change_the_best() {
    let lines = [
        r#"{"step":1,"loss":1,"reward":5}"#,
        r#"{"step":2,"loss":3,"reward":2}"#,
    ];
    let all = summarize(lines.into_iter(), &["reward".into()], &["loss".into()]);
    assert_eq!(
        (one(&all, "loss").best, one(&all, "loss").best_step),
        (Some(3.0), Some(2.0))
    );
    assert_eq!(one(&all, "reward").best, Some(2.0));
    assert_eq!(one(&all, "reward").direction, "min");
}

/// Issue 12: NaN and infinities (stored as strings) are counted and never last or best.
#[test]
fn non_finite_values_are_counted_apart() {
    let lines = [
        r#"{"step":1,"loss":1.0}"#,
        r#"{"step":2,"loss":"NaN"}"#,
        r#"{"step":3,"loss":"-Infinity"}"#,
        r#"{"step":4,"loss":"Infinity"}"#,
    ];
    let all = summarize(lines.into_iter(), &[], &[]);
    let loss = one(&all, "loss");
    assert_eq!((loss.count, loss.nan_count), (4, 3));
    assert_eq!(
        (loss.last, loss.last_step, loss.best),
        (Some(1.0), Some(1.0), Some(1.0))
    );
}

/// Issue 12: with a time on each record, steps per second and the step time's mean and 95th
/// percentile; without a step key, records are counted as steps.
#[test]
fn throughput_and_step_time_from_a_time_field() {
    // 100 steps, 10 apart, 1 s each except every 20th interval, which takes 5 s.
    let mut t = 1000.0;
    let mut lines = Vec::new();
    for i in 0..100 {
        if i > 0 {
            t += if i % 20 == 0 { 5.0 } else { 1.0 };
        }
        lines.push(format!(r#"{{"step":{},"time":{t},"loss":1}}"#, i * 10));
    }
    let all = summarize(lines.iter().map(String::as_str), &[], &[]);
    let loss = one(&all, "loss");
    let span = t - 1000.0; // 99 intervals: 95 of 1 s and 4 of 5 s
    assert_eq!(span, 115.0);
    assert!((loss.steps_per_s.unwrap() - 990.0 / span).abs() < 1e-9);
    assert!((loss.step_time_mean_s.unwrap() - span / 99.0).abs() < 1e-9);
    assert_eq!(loss.step_time_p95_s, Some(1.0), "4 slow of 99 is under 5 %");
    let no_step = [
        r#"{"t":0,"acc":1}"#,
        r#"{"t":2,"acc":1}"#,
        r#"{"t":4,"acc":1}"#,
    ];
    let acc = summarize(no_step.into_iter(), &[], &[]);
    assert_eq!(acc[0].steps_per_s, Some(0.5));
    assert_eq!(
        (acc[0].last_step, acc[0].step_time_p95_s),
        (None, Some(2.0))
    );
}

/// Issue 12: the 95th percentile stays bounded in memory past the sample size, and the same
/// stream gives the same figure.
#[test]
fn step_time_p95_is_sampled_deterministically() {
    let n = summary::STEP_TIME_SAMPLE * 5;
    let lines: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"step":{i},"time":{},"loss":1}}"#,
                (i * i % 7919) as f64 + i as f64 * 10.0
            )
        })
        .collect();
    let a = summarize(lines.iter().map(String::as_str), &[], &[]);
    let b = summarize(lines.iter().map(String::as_str), &[], &[]);
    assert_eq!(a, b);
    assert!(a[0].step_time_p95_s.is_some());
}
