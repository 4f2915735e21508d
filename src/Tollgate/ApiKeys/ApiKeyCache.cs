using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Tollgate.ApiKeys;

/// <summary>
/// Verified keys by secret hash, so the hot path does not touch storage. Eviction is
/// immediate: a version counter makes sure a lookup that read storage before an eviction
/// cannot put the stale key back afterwards.
/// </summary>
internal sealed class ApiKeyCache(TimeProvider time, IOptions<ApiKeyOptions> options)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly long _ttl = (long)(options.Value.CacheTtl.TotalSeconds * time.TimestampFrequency);
    private readonly int _maxEntries = options.Value.CacheMaxEntries;
    private long _version;

    internal sealed record Entry(ApiKeyMatch Match, long CachedAt);

    /// <summary>Read before a storage lookup and passed to <see cref="Add"/>.</summary>
    public long Version => Interlocked.Read(ref _version);

    public int Count => _entries.Count;

    public bool TryGet(string secretHash, out ApiKeyMatch match)
    {
        if (_entries.TryGetValue(secretHash, out var entry) && time.GetTimestamp() - entry.CachedAt < _ttl)
        {
            match = entry.Match;
            return true;
        }

        match = null!;
        return false;
    }

    public void Add(string secretHash, ApiKeyMatch match, long versionBeforeLookup)
    {
        if (_entries.Count >= _maxEntries || versionBeforeLookup != Version)
        {
            return;
        }

        var entry = new Entry(match, time.GetTimestamp());
        _entries[secretHash] = entry;

        // An eviction that raced with this add has either seen the entry or bumped the version.
        if (versionBeforeLookup != Version)
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(secretHash, entry));
        }
    }

    /// <summary>Forgets every secret of the key; returns once no later lookup can see them.</summary>
    public void Evict(string keyId)
    {
        Interlocked.Increment(ref _version);
        foreach (var (hash, entry) in _entries)
        {
            if (entry.Match.Key.Id == keyId)
            {
                _entries.TryRemove(hash, out _);
            }
        }
    }
}
