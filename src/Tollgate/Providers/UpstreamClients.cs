using System.Collections.Concurrent;
using Tollgate.Models;

namespace Tollgate.Providers;

/// <summary>
/// One long-lived <see cref="HttpClient"/> per provider: connections are reused across requests
/// (keep-alive, HTTP/2 when offered), renewed every few minutes so DNS changes are seen, and
/// never limited in number. Timeouts are the gateway's own (first byte, idle), so the client's
/// is infinite: nothing here can cut a long stream.
/// </summary>
internal sealed class UpstreamClients : IDisposable
{
    private readonly ConcurrentDictionary<string, HttpClient> _clients = new(StringComparer.OrdinalIgnoreCase);

    public HttpClient For(ProviderSettings provider) => _clients.GetOrAdd(provider.Name, static (_, p) => new HttpClient(new SocketsHttpHandler
    {
        ConnectTimeout = p.ConnectTimeout,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        MaxConnectionsPerServer = int.MaxValue,
        EnableMultipleHttp2Connections = true,
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        UseCookies = false,
        AllowAutoRedirect = false,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    }, provider);

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
