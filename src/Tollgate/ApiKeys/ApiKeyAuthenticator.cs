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
    /// <summary>The key and which of its secrets matched, or null when the secret is refused.</summary>
    public ValueTask<ApiKeyMatch?> AuthenticateAsync(string secret, CancellationToken cancellationToken)
    {
        if (!ApiKeySecret.IsWellFormed(secret))
        {
            Log.Rejected(logger, "malformed or bad checksum", null);
            return ValueTask.FromResult<ApiKeyMatch?>(null);
        }

        var hash = ApiKeySecret.Hash(secret);
        return cache.TryGet(hash, out var match)
            ? ValueTask.FromResult(Accept(match))
            : LookupAsync(hash, cancellationToken);
    }

    private async ValueTask<ApiKeyMatch?> LookupAsync(string hash, CancellationToken cancellationToken)
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

    private ApiKeyMatch? Accept(ApiKeyMatch match)
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
        return match;
    }

    private static partial class Log
    {
        [LoggerMessage(210, LogLevel.Debug, "API key refused: {Reason} (key id {KeyId})")]
        public static partial void Rejected(ILogger logger, string reason, string? keyId);
    }
}
