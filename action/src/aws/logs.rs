//! CloudWatch Logs: the last lines of a log stream (a failed task's output).

/// The most of one log line Ferry keeps (CloudWatch takes 256 KiB events;
/// AWS caps one answer at 1 MB, which the SDK reads).
pub const LINE_CHARS: usize = 2000;

/// The last `limit` messages of `stream` in `group`, oldest first and
/// without trailing line breaks; the error is the first line of the SDK's
/// account (a missing stream is common and needs no more).
pub async fn last_lines(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    limit: usize,
) -> Result<Vec<String>, String> {
    let out = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .limit(i32::try_from(limit).unwrap_or(i32::MAX))
        .start_from_head(false)
        .send()
        .await
        .map_err(|e| crate::outside::aws_detail(&e))?;
    Ok(out
        .events()
        .iter()
        .rev()
        .take(limit)
        .rev()
        .map(|e| {
            crate::text::truncate_chars(e.message().unwrap_or_default().trim_end(), LINE_CHARS)
        })
        .collect())
}
