using Microsoft.Extensions.Options;
using Tollgate.Accounts;
using Tollgate.Http;
using Tollgate.Storage;

namespace Tollgate.ApiKeys;

/// <summary>
/// The rules of key management (SPEC section 5). <c>caller</c> is the key making the change,
/// or null for the account itself (CLI, dashboard). A key only creates, changes, rotates or deletes
/// keys within its own authority (<see cref="ApiKeyAuthority"/>), and only keys of owner and admin
/// accounts may hold the <c>admin</c> scope. Every change that can refuse a key evicts it from the
/// cache before returning.
/// </summary>
internal sealed class ApiKeyService(
    IApiKeyStore store,
    IAccountStore accounts,
    ApiKeyCache cache,
    LastUsedRecorder lastUsed,
    TimeProvider time,
    IOptions<ApiKeyOptions> options)
{
    public const int MaxSearchLength = 100;

    internal sealed record Created(ApiKey Key, string Secret);

    public async Task<IReadOnlyList<ApiKey>> ListAsync(string accountId, CancellationToken cancellationToken)
    {
        var keys = await store.ListAsync(accountId, cancellationToken);
        return keys.Select(lastUsed.Overlay).ToArray();
    }

    /// <summary>A page of the account's keys, newest first (the dashboard's list): at most 200, searched and filtered in storage.</summary>
    public async Task<IReadOnlyList<ApiKey>> ListPageAsync(string accountId, KeyListQuery query, CancellationToken cancellationToken)
    {
        var bounded = query with
        {
            Limit = Math.Clamp(query.Limit, 1, 200),
            Search = query.Search is { Length: > MaxSearchLength } search ? search[..MaxSearchLength] : query.Search,
        };
        var keys = await store.ListPageAsync(accountId, bounded, time.GetUtcNow(), cancellationToken);
        return keys.Select(lastUsed.Overlay).ToArray();
    }

    public Task<KeyHygiene> GetHygieneAsync(string accountId, TimeSpan unusedFor, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return store.CountHygieneAsync(accountId, now, now - unusedFor, cancellationToken);
    }

    /// <summary>
    /// Whether a pasted secret is a working key right now, and which: the same checks as authentication (format and
    /// checksum, then storage; disabled, expired, deleted and rotated-out keys are not valid), without counting as a use.
    /// </summary>
    public async Task<ApiKeyMatch?> CheckAsync(string secret, CancellationToken cancellationToken)
    {
        if (!ApiKeySecret.IsWellFormed(secret))
        {
            return null;
        }

        var now = time.GetUtcNow();
        var match = await store.FindBySecretHashAsync(ApiKeySecret.Hash(secret), now, cancellationToken);
        return match is null || match.Key.Disabled || match.Key.IsExpired(now) || match.SecretValidUntil <= now ? null : match;
    }

    public async Task<ApiKey> GetAsync(string accountId, string keyId, CancellationToken cancellationToken) =>
        lastUsed.Overlay(await store.GetAsync(accountId, keyId, cancellationToken) ?? throw NotFound());

    public async Task<Created> CreateAsync(string accountId, ApiKey? caller, ApiKeyChanges request, CancellationToken cancellationToken)
    {
        var name = request.Name ?? throw ApiException.BadRequest("name is required", "name");

        // What the request leaves out comes from the caller, so a bounded key makes bounded keys;
        // admin is never inherited.
        var secret = ApiKeySecret.Generate();
        var key = new ApiKey
        {
            Id = Ids.New("key"),
            AccountId = accountId,
            Name = name,
            Label = ApiKeySecret.Label(secret),
            Scopes = request.Scopes ?? (caller is null ? ApiKeyScopes.Default : caller.Scopes & ~ApiKeyScopes.Admin),
            Models = request.SetsModels ? request.Models : caller?.Models,
            Disabled = request.Disabled ?? false,
            LimitNanos = request.SetsLimit ? request.LimitNanos : caller?.LimitNanos,
            LimitReset = request.SetsLimitReset ? request.LimitReset : caller?.LimitReset,
            RateLimitRequestsPerMinute = request.SetsRateLimit ? request.RequestsPerMinute : caller?.RateLimitRequestsPerMinute,
            CreatedAt = time.GetUtcNow(),
            ExpiresAt = request.SetsExpiresAt ? request.ExpiresAt : caller?.ExpiresAt,
        };
        ApiKeyAuthority.EnsureMayGrant(caller, key);
        await EnsureAdminMayBeHeldAsync(accountId, key.Scopes, cancellationToken);

        var limit = options.Value.MaxKeysPerAccount;
        if (await store.CountAsync(accountId, cancellationToken) >= limit)
        {
            throw ApiException.BadRequest($"This account already has the most API keys allowed ({limit}); delete one first");
        }

        await store.InsertAsync(key, ApiKeySecret.Hash(secret), cancellationToken);
        return new Created(key, secret);
    }

    public async Task<ApiKey> UpdateAsync(string accountId, ApiKey? caller, string keyId, ApiKeyChanges request, CancellationToken cancellationToken)
    {
        var key = await store.GetAsync(accountId, keyId, cancellationToken) ?? throw NotFound();
        ApiKeyAuthority.EnsureMayManage(caller, key, "change");
        var updated = key with
        {
            Name = request.Name ?? key.Name,
            Scopes = request.Scopes ?? key.Scopes,
            Models = request.SetsModels ? request.Models : key.Models,
            Disabled = request.Disabled ?? key.Disabled,
            LimitNanos = request.SetsLimit ? request.LimitNanos : key.LimitNanos,
            LimitReset = request.SetsLimitReset ? request.LimitReset : key.LimitReset,
            RateLimitRequestsPerMinute = request.SetsRateLimit ? request.RequestsPerMinute : key.RateLimitRequestsPerMinute,
            ExpiresAt = request.SetsExpiresAt ? request.ExpiresAt : key.ExpiresAt,
        };

        // The key must lie within the caller both as it is and as it would be: a key narrows itself
        // freely, but never widens itself or reaches a key wider than itself.
        ApiKeyAuthority.EnsureMayGrant(caller, updated);
        if ((updated.Scopes & ~key.Scopes).HasFlag(ApiKeyScopes.Admin))
        {
            await EnsureAdminMayBeHeldAsync(accountId, updated.Scopes, cancellationToken);
        }

        if (!await store.UpdateAsync(updated, cancellationToken))
        {
            throw NotFound();
        }

        await cache.EvictEverywhereAsync(keyId, cancellationToken);
        return lastUsed.Overlay(updated);
    }

    public async Task<Created> RotateAsync(string accountId, ApiKey? caller, string keyId, TimeSpan grace, CancellationToken cancellationToken)
    {
        var key = await store.GetAsync(accountId, keyId, cancellationToken) ?? throw NotFound();

        // A new secret for a wider key would hand the caller that key's power.
        ApiKeyAuthority.EnsureMayManage(caller, key, "rotate");

        var secret = ApiKeySecret.Generate();
        var label = ApiKeySecret.Label(secret);
        DateTimeOffset? previousValidUntil = grace > TimeSpan.Zero ? time.GetUtcNow() + grace : null;
        if (!await store.RotateAsync(accountId, keyId, ApiKeySecret.Hash(secret), label, previousValidUntil, cancellationToken))
        {
            throw NotFound();
        }

        await cache.EvictEverywhereAsync(keyId, cancellationToken);
        return new Created(lastUsed.Overlay(key with { Label = label }), secret);
    }

    public async Task DeleteAsync(string accountId, ApiKey? caller, string keyId, CancellationToken cancellationToken)
    {
        if (caller is not null)
        {
            ApiKeyAuthority.EnsureMayManage(caller, await store.GetAsync(accountId, keyId, cancellationToken) ?? throw NotFound(), "delete");
        }

        if (!await store.DeleteAsync(accountId, keyId, time.GetUtcNow(), cancellationToken))
        {
            throw NotFound();
        }

        await cache.EvictEverywhereAsync(keyId, cancellationToken);
    }

    /// <summary>Only keys of owner and admin accounts may hold <c>admin</c>, whoever asks.</summary>
    private async Task EnsureAdminMayBeHeldAsync(string accountId, ApiKeyScopes scopes, CancellationToken cancellationToken)
    {
        if (scopes.HasFlag(ApiKeyScopes.Admin) &&
            (await accounts.FindByIdAsync(accountId, cancellationToken))?.Role is not (AccountRole.Owner or AccountRole.Admin))
        {
            throw new ApiException(StatusCodes.Status403Forbidden, "Only keys of owner or admin accounts may hold the 'admin' scope",
                new Dictionary<string, object?> { ["reason"] = "not_admin", ["param"] = "scopes" });
        }
    }

    private static ApiException NotFound() => ApiException.NotFound("API key not found");
}
