namespace Tollgate.Usage;

/// <summary>
/// The 15-minute buckets of the usage rollups (<c>usage_rollup_model</c>, <c>_key</c>, <c>_app</c>): bucket
/// <c>n</c> holds the calls from <c>n × 15 min</c> (Unix time) up to the next bucket.
/// </summary>
internal static class UsageBuckets
{
    public const long SizeMs = 15 * 60 * 1000;

    /// <summary>The bucket of <paramref name="time"/>, as <c>created_at / 900000</c> is in SQL.</summary>
    public static long Of(DateTimeOffset time) => time.ToUnixTimeMilliseconds() / SizeMs;

    public static DateTimeOffset Start(long bucket) => DateTimeOffset.FromUnixTimeMilliseconds(bucket * SizeMs);
}

/// <summary>
/// Local days of an account's reporting time zone. A day is a whole range of 15-minute buckets: a bucket belongs
/// to the local day of its first instant. Every real zone's offset is a multiple of 15 minutes, so that is exactly
/// the local calendar day, a 23- or 25-hour one on the day of a DST change included (a zone with an older, odd
/// offset has its day boundaries moved to the next quarter hour).
/// </summary>
internal static class UsageTime
{
    /// <summary>Wider than any offset a zone ever had (−12:00 to +14:00, plus DST), in buckets.</summary>
    private const long SearchBuckets = 26 * 4;

    /// <summary>The account's zone from its IANA id (<c>accounts.time_zone</c>); UTC for null or an id this machine does not know.</summary>
    public static TimeZoneInfo FindZone(string? ianaId) =>
        !string.IsNullOrWhiteSpace(ianaId) && TimeZoneInfo.TryFindSystemTimeZoneById(ianaId, out var zone) ? zone : TimeZoneInfo.Utc;

    /// <summary>The calendar day a clock in <paramref name="zone"/> shows at <paramref name="instant"/>.</summary>
    public static DateOnly LocalDate(DateTimeOffset instant, TimeZoneInfo zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, zone).DateTime);

    /// <summary><paramref name="instant"/> as a clock in <paramref name="zone"/> shows it, with that zone's offset then.</summary>
    public static DateTimeOffset ToLocal(DateTimeOffset instant, TimeZoneInfo zone) => TimeZoneInfo.ConvertTime(instant, zone);

    /// <summary>The first bucket of <paramref name="day"/> in <paramref name="zone"/>.</summary>
    public static long DayStartBucket(DateOnly day, TimeZoneInfo zone)
    {
        // Local dates only move forward as time does (a DST fall-back repeats an hour of the same day), so the first
        // bucket whose local date is the day is found by bisection around UTC midnight.
        var midnight = UsageBuckets.Of(new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
        var low = midnight - SearchBuckets;  // local date before the day
        var high = midnight + SearchBuckets; // local date the day or after
        while (high - low > 1)
        {
            var middle = low + (high - low) / 2;
            if (LocalDate(UsageBuckets.Start(middle), zone) < day)
            {
                low = middle;
            }
            else
            {
                high = middle;
            }
        }

        return high;
    }

    /// <summary>The first instant of <paramref name="day"/> in <paramref name="zone"/>: a day's calls are those from its start to the next day's.</summary>
    public static DateTimeOffset DayStart(DateOnly day, TimeZoneInfo zone) => UsageBuckets.Start(DayStartBucket(day, zone));

    /// <summary>The zone as charts and exports name it: <c>Asia/Kolkata (UTC+05:30)</c>, with its offset at <paramref name="at"/>.</summary>
    public static string Describe(TimeZoneInfo zone, DateTimeOffset at)
    {
        var offset = zone.GetUtcOffset(at);
        var sign = offset < TimeSpan.Zero ? "-" : "+";
        var text = offset == TimeSpan.Zero ? "UTC" : $"UTC{sign}{offset.Duration():hh\\:mm}";
        return zone.Id is "UTC" or "Etc/UTC" ? text : $"{zone.Id} ({text})";
    }
}
