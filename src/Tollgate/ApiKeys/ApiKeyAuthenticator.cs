namespace Tollgate.ApiKeys;

/// <summary>
/// Verifies a presented secret: format and checksum first (no storage touched), then the
/// cache, then storage. Disabled, expired, deleted and rotated-out keys are all refused alike.
/// </summary>
internal sealed partial class ApiKeyAuthenticator(
    IApiKeyStore store,
    ApiKeyCache cache,
    LastUsedRecorder lastUsed,
    TimeProvider time,
    ILogger<ApiKeyAuthenticator> logger)
{
    public ValueTask<ApiKey?> AuthenticateAsync(string secret, CancellationToken cancellationToken)
    {
        if (!ApiKeySecret.IsWellFormed(secret))
        {
            Log.Rejected(logger, "malformed or bad checksum", null);
            return ValueTask.FromResult<ApiKey?>(null);
        }

        var hash = ApiKeySecret.Hash(secret);
        return cache.TryGet(hash, out var match)
            ? ValueTask.FromResult(Accept(match))
            : LookupAsync(hash, cancellationToken);
    }

    private async ValueTask<ApiKey?> LookupAsync(string hash, CancellationToken cancellationToken)
    {
        var version = cache.Version;
        var match = await store.FindBySecretHashAsync(hash, time.GetUtcNow(), cancellationToken);
        if (match is null)
        {
            Log.Rejected(logger, "unknown or deleted", null);
            return null;
        }

        cache.Add(hash, match, version);
        return Accept(match);
    }

    private ApiKey? Accept(ApiKeyMatch match)
    {
        var key = match.Key;
        var now = time.GetUtcNow();
        var reason = key.Disabled ? "disabled"
            : key.IsExpired(now) ? "expired"
            : match.SecretValidUntil <= now ? "rotated out"
            : null;
        if (reason is not null)
        {
            Log.Rejected(logger, reason, key.Id);
            return null;
        }

        lastUsed.Touch(key.Id);
        return key;
    }

    private static partial class Log
    {
        [LoggerMessage(210, LogLevel.Debug, "API key refused: {Reason} (key id {KeyId})")]
        public static partial void Rejected(ILogger logger, string reason, string? keyId);
    }
}
