using Tollgate.ApiKeys;
using Tollgate.Credits;

namespace Tollgate.Dashboard.Settings.Keys;

/// <summary>A key as the list shows it: its spend, status and hygiene flags.</summary>
internal sealed record KeyRow(ApiKey Key, KeySpend Spend, DateTimeOffset Now)
{
    public static readonly TimeSpan UnusedAfter = TimeSpan.FromDays(30);

    public string Status => Key.Disabled ? "disabled" : Key.IsExpired(Now) ? "expired" : "active";

    public string StatusBadge => Status switch { "active" => "badge-ok", "expired" => "badge-warn", _ => "badge-muted" };

    public bool NoLimit => Key.LimitNanos is null;

    public bool NoExpiry => Key.ExpiresAt is null;

    /// <summary>Not used for 30 days (never used, and made more than 30 days ago, counts).</summary>
    public bool Unused => (Key.LastUsedAt ?? Key.CreatedAt) < Now - UnusedAfter;

    public long? RemainingNanos => Key.LimitNanos is { } limit ? Math.Max(0, limit - Spend.ForReset(Key.LimitReset)) : null;
}
