using System.Text.Encodings.Web;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Storage;

namespace Tollgate.MicroBench;

/// <summary>
/// Verifying a presented key on every request, a cache hit (the usual case): format and checksum
/// (<see cref="ApiKeySecret.IsWellFormed"/>), SHA-256 (<see cref="ApiKeySecret.Hash"/>), the cache lookup
/// (<see cref="ApiKeyCache.TryGet"/>); all of it with the last-used note through <see cref="ApiKeyAuthenticator"/>;
/// and the whole per-request authentication: a new <see cref="ApiKeyAuthenticationHandler"/> (the framework makes
/// one per request), its header parsing and the ticket it builds. The key is stored in a real SQLite file and
/// put in the cache once, in setup, by a first (missed) lookup.
/// </summary>
[MemoryDiagnoser]
public class KeyVerificationBenchmarks
{
    private readonly AuthenticationScheme _scheme = new(ApiKeyAuthenticationHandler.SchemeName, null, typeof(ApiKeyAuthenticationHandler));
    private TempDatabase _database = null!;
    private LastUsedRecorder _lastUsed = null!;
    private ApiKeyCache _cache = null!;
    private ApiKeyAuthenticator _authenticator = null!;
    private ServiceProvider _services = null!;
    private IOptionsMonitor<AuthenticationSchemeOptions> _schemeOptions = null!;
    private DefaultHttpContext _context = null!;
    private string _secret = "";
    private string _hash = "";

    [GlobalSetup]
    public async Task Setup()
    {
        _database = await TempDatabase.CreateAsync();
        var store = new SqliteApiKeyStore(_database.Database);
        _secret = ApiKeySecret.Generate();
        _hash = ApiKeySecret.Hash(_secret);
        await store.InsertAsync(new ApiKey
        {
            Id = "key_bench",
            AccountId = TempDatabase.AccountId,
            Name = "bench",
            Label = ApiKeySecret.Label(_secret),
            Scopes = ApiKeyScopes.All,
            CreatedAt = DateTimeOffset.UtcNow,
        }, _hash, CancellationToken.None);

        // The longest TTL the settings allow, so that no entry expires while a benchmark runs (the default is 60 s).
        var options = Options.Create(new ApiKeyOptions { CacheTtl = TimeSpan.FromHours(1) });
        _cache = new ApiKeyCache(TimeProvider.System, options);
        _lastUsed = new LastUsedRecorder(store, TimeProvider.System, options, NullLogger<LastUsedRecorder>.Instance);
        _authenticator = new ApiKeyAuthenticator(store, _cache, _lastUsed, TimeProvider.System, NullLogger<ApiKeyAuthenticator>.Instance);
        if (await _authenticator.AuthenticateAsync(_secret, CancellationToken.None) is null || !_cache.TryGet(_hash, out _))
        {
            throw new InvalidOperationException("The key was not verified and cached");
        }

        _services = new ServiceCollection().AddOptions().BuildServiceProvider();
        _schemeOptions = _services.GetRequiredService<IOptionsMonitor<AuthenticationSchemeOptions>>();
        _context = new DefaultHttpContext { RequestServices = _services };
        _context.Request.Headers.Authorization = "Bearer " + _secret;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _lastUsed.Dispose();
        _services.Dispose();
        _database.Dispose();
    }

    [Benchmark]
    public bool FormatAndChecksum() => ApiKeySecret.IsWellFormed(_secret);

    [Benchmark]
    public string Sha256Hex() => ApiKeySecret.Hash(_secret);

    [Benchmark]
    public bool CacheHit() => _cache.TryGet(_hash, out _);

    /// <summary>Checksum + hash + cache hit + last-used note: <see cref="ApiKeyAuthenticator.AuthenticateAsync"/>.</summary>
    [Benchmark]
    public async Task<bool> Authenticator() => await _authenticator.AuthenticateAsync(_secret, CancellationToken.None) is not null;

    /// <summary>What authentication costs a request, from the <c>Authorization</c> header to the ticket.</summary>
    [Benchmark]
    public async Task<bool> AuthenticationHandler()
    {
        var handler = new ApiKeyAuthenticationHandler(_schemeOptions, NullLoggerFactory.Instance, UrlEncoder.Default, _authenticator);
        await handler.InitializeAsync(_scheme, _context);
        return (await handler.AuthenticateAsync()).Succeeded;
    }
}
