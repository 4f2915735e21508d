namespace Tollgate.Accounts;

/// <summary>An invitation to create an account with a role; the first-run owner link is one with no creator.</summary>
internal sealed record Invite
{
    public required string Id { get; init; }

    /// <summary>When set, only this e-mail address may use the invite.</summary>
    public string? Email { get; init; }

    public required AccountRole Role { get; init; }

    /// <summary>The account that made it; null for the server's own first-run link.</summary>
    public string? CreatedBy { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset ExpiresAt { get; init; }
    public DateTimeOffset? UsedAt { get; init; }
    public string? UsedBy { get; init; }

    public bool IsUsable(DateTimeOffset now) => UsedAt is null && ExpiresAt > now;

    public string Status(DateTimeOffset now) => UsedAt is not null ? "used" : ExpiresAt <= now ? "expired" : "open";
}
