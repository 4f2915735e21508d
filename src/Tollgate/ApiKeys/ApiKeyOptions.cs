namespace Tollgate.ApiKeys;

/// <summary>Settings of the API-key feature (<c>Tollgate:ApiKeys</c>).</summary>
internal sealed class ApiKeyOptions
{
    public const string Section = "Tollgate:ApiKeys";

    /// <summary>How long a verified key stays in the in-memory cache. Changes made through this
    /// instance evict it at once; the TTL bounds how long a change made elsewhere (the CLI) takes.</summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Most keys held in the cache; when full, the least recently used make room. 0 turns the cache off.</summary>
    public int CacheMaxEntries { get; set; } = 100_000;

    /// <summary>How often last-used times are written to storage, in one batch.</summary>
    public TimeSpan LastUsedFlushInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most live keys an account may hold.</summary>
    public int MaxKeysPerAccount { get; set; } = 500;

    /// <summary>Longest grace period a rotation may give the old secret.</summary>
    public TimeSpan MaxRotationGrace { get; set; } = TimeSpan.FromDays(7);

    internal IEnumerable<string> Validate()
    {
        if (CacheTtl < TimeSpan.Zero || CacheTtl > TimeSpan.FromHours(1))
        {
            yield return $"{Section}:CacheTtl must be between 00:00:00 and 01:00:00";
        }

        if (CacheMaxEntries < 0)
        {
            yield return $"{Section}:CacheMaxEntries must not be negative";
        }

        if (LastUsedFlushInterval < TimeSpan.FromMilliseconds(10) || LastUsedFlushInterval > TimeSpan.FromHours(1))
        {
            yield return $"{Section}:LastUsedFlushInterval must be between 00:00:00.010 and 01:00:00";
        }

        if (MaxKeysPerAccount < 1)
        {
            yield return $"{Section}:MaxKeysPerAccount must be at least 1";
        }

        if (MaxRotationGrace < TimeSpan.Zero)
        {
            yield return $"{Section}:MaxRotationGrace must not be negative";
        }
    }
}
