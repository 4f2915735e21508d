using Microsoft.Extensions.Options;
using Tollgate.Http;
using Tollgate.Storage;

namespace Tollgate.ApiKeys;

/// <summary>
/// The rules of key management (SPEC section 5). <c>caller</c> is the key making the change,
/// or null for the account itself (CLI, dashboard). A key can never hand out more than it holds:
/// no scope it lacks, no model outside its own allow-list, and no new secret for a wider key.
/// Every change that can refuse a key evicts it from the cache before returning.
/// </summary>
internal sealed class ApiKeyService(
    IApiKeyStore store,
    ApiKeyCache cache,
    LastUsedRecorder lastUsed,
    TimeProvider time,
    IOptions<ApiKeyOptions> options)
{
    internal sealed record Created(ApiKey Key, string Secret);

    public async Task<IReadOnlyList<ApiKey>> ListAsync(string accountId, CancellationToken cancellationToken)
    {
        var keys = await store.ListAsync(accountId, cancellationToken);
        return keys.Select(lastUsed.Overlay).ToArray();
    }

    public async Task<ApiKey> GetAsync(string accountId, string keyId, CancellationToken cancellationToken) =>
        lastUsed.Overlay(await store.GetAsync(accountId, keyId, cancellationToken) ?? throw NotFound());

    public async Task<Created> CreateAsync(string accountId, ApiKey? caller, ApiKeyChanges request, CancellationToken cancellationToken)
    {
        var name = request.Name ?? throw ApiException.BadRequest("name is required", "name");
        var scopes = request.Scopes ?? caller?.Scopes ?? ApiKeyScopes.All;
        var models = request.SetsModels ? request.Models : caller?.Models;
        EnsureWithin(caller, scopes, models);

        var limit = options.Value.MaxKeysPerAccount;
        if (await store.CountAsync(accountId, cancellationToken) >= limit)
        {
            throw ApiException.BadRequest($"This account already has the most API keys allowed ({limit}); delete one first");
        }

        var secret = ApiKeySecret.Generate();
        var key = new ApiKey
        {
            Id = Ids.New("key"),
            AccountId = accountId,
            Name = name,
            Label = ApiKeySecret.Label(secret),
            Scopes = scopes,
            Models = models,
            Disabled = request.Disabled ?? false,
            LimitNanos = request.LimitNanos,
            LimitReset = request.LimitReset,
            RateLimitRequestsPerMinute = request.RequestsPerMinute,
            CreatedAt = time.GetUtcNow(),
            ExpiresAt = request.ExpiresAt,
        };
        await store.InsertAsync(key, ApiKeySecret.Hash(secret), cancellationToken);
        return new Created(key, secret);
    }

    public async Task<ApiKey> UpdateAsync(string accountId, ApiKey? caller, string keyId, ApiKeyChanges request, CancellationToken cancellationToken)
    {
        var key = await store.GetAsync(accountId, keyId, cancellationToken) ?? throw NotFound();
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

        // Widening is refused; narrowing a key (even one wider than the caller) is allowed.
        EnsureScopesWithin(caller, updated.Scopes & ~key.Scopes);
        if (!ModelAllowList.Covers(key.Models, updated.Models))
        {
            EnsureModelsWithin(caller, updated.Models);
        }

        if (!await store.UpdateAsync(updated, cancellationToken))
        {
            throw NotFound();
        }

        cache.Evict(keyId);
        return lastUsed.Overlay(updated);
    }

    public async Task<Created> RotateAsync(string accountId, ApiKey? caller, string keyId, TimeSpan grace, CancellationToken cancellationToken)
    {
        var key = await store.GetAsync(accountId, keyId, cancellationToken) ?? throw NotFound();

        // A new secret for a wider key would hand the caller that key's power.
        EnsureWithin(caller, key.Scopes, key.Models);

        var secret = ApiKeySecret.Generate();
        var label = ApiKeySecret.Label(secret);
        DateTimeOffset? previousValidUntil = grace > TimeSpan.Zero ? time.GetUtcNow() + grace : null;
        if (!await store.RotateAsync(accountId, keyId, ApiKeySecret.Hash(secret), label, previousValidUntil, cancellationToken))
        {
            throw NotFound();
        }

        cache.Evict(keyId);
        return new Created(lastUsed.Overlay(key with { Label = label }), secret);
    }

    public async Task DeleteAsync(string accountId, string keyId, CancellationToken cancellationToken)
    {
        if (!await store.DeleteAsync(accountId, keyId, time.GetUtcNow(), cancellationToken))
        {
            throw NotFound();
        }

        cache.Evict(keyId);
    }

    private static void EnsureWithin(ApiKey? caller, ApiKeyScopes scopes, IReadOnlyList<string>? models)
    {
        EnsureScopesWithin(caller, scopes);
        EnsureModelsWithin(caller, models);
    }

    private static void EnsureScopesWithin(ApiKey? caller, ApiKeyScopes scopes)
    {
        if (caller is not null && ApiKeyScopeNames.FirstMissing(caller.Scopes, scopes) is { } missing)
        {
            throw ApiException.Forbidden($"This API key cannot grant the '{missing}' scope, which it does not hold itself", "missing_scope", missing);
        }
    }

    private static void EnsureModelsWithin(ApiKey? caller, IReadOnlyList<string>? models)
    {
        if (caller is not null && !ModelAllowList.Covers(caller.Models, models))
        {
            throw new ApiException(StatusCodes.Status403Forbidden,
                "This API key cannot grant models outside its own allow-list",
                new Dictionary<string, object?> { ["reason"] = "model_not_allowed" });
        }
    }

    private static ApiException NotFound() => ApiException.NotFound("API key not found");
}
