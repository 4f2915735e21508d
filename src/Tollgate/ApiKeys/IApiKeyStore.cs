namespace Tollgate.ApiKeys;

/// <summary>What the API-key feature needs from storage. SQLite and PostgreSQL implement it.</summary>
internal interface IApiKeyStore
{
    Task InsertAsync(ApiKey key, string secretHash, CancellationToken cancellationToken);

    /// <summary>A live (not deleted) key by the hash of its current secret, or of its previous
    /// secret while that one's grace period lasts.</summary>
    Task<ApiKeyMatch?> FindBySecretHashAsync(string secretHash, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>A live key of the account; null for a missing key and for another account's key alike.</summary>
    Task<ApiKey?> GetAsync(string accountId, string keyId, CancellationToken cancellationToken);

    Task<IReadOnlyList<ApiKey>> ListAsync(string accountId, CancellationToken cancellationToken);

    Task<int> CountAsync(string accountId, CancellationToken cancellationToken);

    /// <summary>A page of the account's live keys, newest first, after <see cref="KeyListQuery.After"/>, searched and filtered.</summary>
    Task<IReadOnlyList<ApiKey>> ListPageAsync(string accountId, KeyListQuery query, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>How many of the account's live keys have no limit, no expiry, or were not used since <paramref name="unusedSince"/>.</summary>
    Task<KeyHygiene> CountHygieneAsync(string accountId, DateTimeOffset now, DateTimeOffset unusedSince, CancellationToken cancellationToken);

    /// <summary>Writes the mutable fields (name, scopes, models, disabled, limits, expiry).</summary>
    Task<bool> UpdateAsync(ApiKey key, CancellationToken cancellationToken);

    /// <summary>Replaces the secret; the old one stays valid until <paramref name="previousValidUntil"/>.</summary>
    Task<bool> RotateAsync(string accountId, string keyId, string newSecretHash, string newLabel,
        DateTimeOffset? previousValidUntil, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string accountId, string keyId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Writes a batch of last-used times; a time never moves backwards.</summary>
    Task RecordLastUsedAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastUsed, CancellationToken cancellationToken);
}

/// <summary>Which keys a list page shows: text in the name or label, a status, and where the previous page ended.</summary>
internal sealed record KeyListQuery(string? Search, KeyStatusFilter Status, KeyCursor? After, int Limit);

internal enum KeyStatusFilter
{
    All,
    Active,
    Disabled,
    Expired,
}

/// <summary>The last key of a page (newest first): its creation time and id.</summary>
internal sealed record KeyCursor(DateTimeOffset CreatedAt, string Id);

/// <summary>Keys that invite trouble: no credit limit, no expiry, unused for a while.</summary>
internal sealed record KeyHygiene(int Total, int NoLimit, int NoExpiry, int Unused);
