namespace Tollgate.Accounts;

/// <summary>Reporting time zones: IANA ids, as the operating system's time-zone database knows them.</summary>
internal static class TimeZones
{
    private static readonly Lazy<IReadOnlyList<string>> All = new(() =>
        [.. TimeZoneInfo.GetSystemTimeZones().Select(z => z.Id).Where(id => id.Contains('/', StringComparison.Ordinal) || id == "UTC").Order(StringComparer.Ordinal)]);

    /// <summary>Every id to offer in a picker, UTC first.</summary>
    public static IReadOnlyList<string> Ids => All.Value;

    public static bool IsKnown(string id) => id.Length is > 0 and <= 64 && (id == "UTC" || TimeZoneInfo.TryFindSystemTimeZoneById(id, out _));

    /// <summary>The zone of <paramref name="id"/>; UTC for an id the system no longer knows.</summary>
    public static TimeZoneInfo Find(string id) => TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : TimeZoneInfo.Utc;
}
