using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Internal;
using Microsoft.Extensions.Options;

namespace Tollgate.ApiKeys;

/// <summary>
/// Verified keys by secret hash, so the hot path does not touch storage. A <see cref="MemoryCache"/>
/// bounded to <see cref="ApiKeyOptions.CacheMaxEntries"/> entries, each living <see cref="ApiKeyOptions.CacheTtl"/>:
/// expired entries are dropped, and past the bound the least recently used make room, so a flood of
/// distinct keys cannot stop new keys being cached. Eviction is immediate: a version counter makes
/// sure a lookup that read storage before an eviction cannot put the stale key back afterwards.
/// </summary>
internal sealed class ApiKeyCache : IDisposable
{
    private readonly MemoryCache? _entries;
    private readonly MemoryCacheEntryOptions _entryOptions;
    private long _version;

    public ApiKeyCache(TimeProvider time, IOptions<ApiKeyOptions> options)
    {
        var settings = options.Value;
        _entryOptions = new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = settings.CacheTtl > TimeSpan.Zero ? settings.CacheTtl : null };

        // A TTL or a bound of zero turns the cache off: every request reads storage.
        if (settings.CacheTtl > TimeSpan.Zero && settings.CacheMaxEntries > 0)
        {
            _entries = new MemoryCache(Options.Create(new MemoryCacheOptions
            {
                SizeLimit = settings.CacheMaxEntries,
                Clock = new TimeProviderClock(time),
                ExpirationScanFrequency = settings.CacheTtl,

                // Past the bound, a twentieth of the entries make room (at least one, for a small bound).
                CompactionPercentage = Math.Max(0.05, 1.0 / settings.CacheMaxEntries),
            }));
        }
    }

    /// <summary>Read before a storage lookup and passed to <see cref="Add"/>.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>Entries held now, expired ones not yet dropped included; never above the bound.</summary>
    public int Count => _entries?.Count ?? 0;

    /// <summary>
    /// Set on a cluster (PostgreSQL storage): tells the other instances of an eviction, and says whether this instance has
    /// heard of every change recently enough for its entries to be trusted. While it has not, every lookup reads storage.
    /// </summary>
    internal IKeyRevocationFeed? Feed { get; set; }

    public bool TryGet(string secretHash, out ApiKeyMatch match)
    {
        if (_entries is not null && Feed is not { IsCurrent: false } && _entries.TryGetValue(secretHash, out var value) && value is ApiKeyMatch found)
        {
            match = found;
            return true;
        }

        match = null!;
        return false;
    }

    /// <summary>
    /// Caches a key read from storage, unless an eviction happened since <paramref name="versionBeforeLookup"/>.
    /// When the cache is full the key is not cached this time; room is made in the background.
    /// </summary>
    public void Add(string secretHash, ApiKeyMatch match, long versionBeforeLookup)
    {
        if (_entries is null || versionBeforeLookup != Version)
        {
            return;
        }

        _entries.Set(secretHash, match, _entryOptions);

        // An eviction that raced with this add has either seen the entry or bumped the version.
        if (versionBeforeLookup != Version)
        {
            _entries.Remove(secretHash);
        }
    }

    /// <summary>Forgets every secret of the key; returns once no later lookup can see them.</summary>
    public void Evict(string keyId)
    {
        Interlocked.Increment(ref _version);
        if (_entries is null)
        {
            return;
        }

        foreach (var hash in _entries.Keys)
        {
            if (_entries.TryGetValue(hash, out var value) && value is ApiKeyMatch match && match.Key.Id == keyId)
            {
                _entries.Remove(hash);
            }
        }
    }

    /// <summary>Forgets every secret of every key of the account (it was disabled); returns once no later lookup can see them.</summary>
    public void EvictAccount(string accountId)
    {
        Interlocked.Increment(ref _version);
        if (_entries is null)
        {
            return;
        }

        foreach (var hash in _entries.Keys)
        {
            if (_entries.TryGetValue(hash, out var value) && value is ApiKeyMatch match && match.Key.AccountId == accountId)
            {
                _entries.Remove(hash);
            }
        }
    }

    /// <summary>Evicts the key here and, on a cluster, returns once every live instance has evicted it (or no longer trusts its cache).</summary>
    public Task EvictEverywhereAsync(string keyId, CancellationToken cancellationToken)
    {
        Evict(keyId);
        return Feed?.PublishAsync("key", keyId, cancellationToken) ?? Task.CompletedTask;
    }

    /// <summary>As <see cref="EvictEverywhereAsync"/>, for every key of an account.</summary>
    public Task EvictAccountEverywhereAsync(string accountId, CancellationToken cancellationToken)
    {
        EvictAccount(accountId);
        return Feed?.PublishAsync("account", accountId, cancellationToken) ?? Task.CompletedTask;
    }

    public void Dispose() => _entries?.Dispose();

    /// <summary>The cache's expiry follows the injected time, so tests control it.</summary>
    private sealed class TimeProviderClock(TimeProvider time) : ISystemClock
    {
        public DateTimeOffset UtcNow => time.GetUtcNow();
    }
}

/// <summary>How evictions reach the other instances of a cluster (see <c>Cluster/KeyChangeFeed</c>).</summary>
internal interface IKeyRevocationFeed
{
    /// <summary>False once this instance may have missed a change (it could not read the feed within its bound).</summary>
    bool IsCurrent { get; }

    Task PublishAsync(string scope, string id, CancellationToken cancellationToken);
}
