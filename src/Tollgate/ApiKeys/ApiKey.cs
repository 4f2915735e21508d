namespace Tollgate.ApiKeys;

/// <summary>An API key as storage holds it: never the secret, only metadata and limits.</summary>
internal sealed record ApiKey
{
    public required string Id { get; init; }
    public required string AccountId { get; init; }
    public required string Name { get; init; }

    /// <summary>The display label, e.g. <c>sk-tg-v1-Ab3...x9Qz</c>.</summary>
    public required string Label { get; init; }

    public required ApiKeyScopes Scopes { get; init; }

    /// <summary>Allowed model ids or patterns (<c>anthropic/*</c>); null allows every model.</summary>
    public IReadOnlyList<string>? Models { get; init; }

    public bool Disabled { get; init; }

    /// <summary>The key's own credit limit in nano-dollars; null for none.</summary>
    public long? LimitNanos { get; init; }

    /// <summary><c>daily</c>, <c>weekly</c>, <c>monthly</c> or null.</summary>
    public string? LimitReset { get; init; }

    public int? RateLimitRequestsPerMinute { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? LastUsedAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }

    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expires && expires <= now;
}

/// <summary>A key found by the hash of a presented secret.</summary>
/// <param name="Key">The key.</param>
/// <param name="SecretValidUntil">Set when the secret is a rotated-out one still inside its grace period.</param>
internal sealed record ApiKeyMatch(ApiKey Key, DateTimeOffset? SecretValidUntil)
{
    /// <summary>The secret presented is the previous one: it may only call inference and read endpoints.</summary>
    public bool IsPreviousSecret => SecretValidUntil is not null;
}
