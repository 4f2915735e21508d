using Tollgate.ApiKeys;

namespace Tollgate.Tests.Infrastructure;

/// <summary>The real SQLite store, counting lookups by secret hash so a test can see storage was not touched.</summary>
internal sealed class CountingApiKeyStore(IApiKeyStore inner) : IApiKeyStore
{
    private int _lookups;

    public int SecretLookups => Volatile.Read(ref _lookups);

    public Task<ApiKeyMatch?> FindBySecretHashAsync(string secretHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lookups);
        return inner.FindBySecretHashAsync(secretHash, now, cancellationToken);
    }

    public Task InsertAsync(ApiKey key, string secretHash, CancellationToken cancellationToken) => inner.InsertAsync(key, secretHash, cancellationToken);

    public Task<ApiKey?> GetAsync(string accountId, string keyId, CancellationToken cancellationToken) => inner.GetAsync(accountId, keyId, cancellationToken);

    public Task<IReadOnlyList<ApiKey>> ListAsync(string accountId, CancellationToken cancellationToken) => inner.ListAsync(accountId, cancellationToken);

    public Task<int> CountAsync(string accountId, CancellationToken cancellationToken) => inner.CountAsync(accountId, cancellationToken);

    public Task<IReadOnlyList<ApiKey>> ListPageAsync(string accountId, KeyListQuery query, DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.ListPageAsync(accountId, query, now, cancellationToken);

    public Task<KeyHygiene> CountHygieneAsync(string accountId, DateTimeOffset now, DateTimeOffset unusedSince, CancellationToken cancellationToken) =>
        inner.CountHygieneAsync(accountId, now, unusedSince, cancellationToken);

    public Task<bool> UpdateAsync(ApiKey key, CancellationToken cancellationToken) => inner.UpdateAsync(key, cancellationToken);

    public Task<bool> RotateAsync(string accountId, string keyId, string newSecretHash, string newLabel, DateTimeOffset? previousValidUntil, CancellationToken cancellationToken) =>
        inner.RotateAsync(accountId, keyId, newSecretHash, newLabel, previousValidUntil, cancellationToken);

    public Task<bool> DeleteAsync(string accountId, string keyId, DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.DeleteAsync(accountId, keyId, now, cancellationToken);

    public Task RecordLastUsedAsync(IReadOnlyCollection<KeyValuePair<string, DateTimeOffset>> lastUsed, CancellationToken cancellationToken) =>
        inner.RecordLastUsedAsync(lastUsed, cancellationToken);
}
