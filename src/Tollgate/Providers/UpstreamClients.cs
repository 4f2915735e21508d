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

    /// <summary>
    /// Sends a JSON body upstream and returns once the answer's headers arrived (the body is read
    /// by the caller, as it comes). A connection failure and a non-2xx answer (mapped by
    /// <paramref name="failure"/>) are thrown as <see cref="UpstreamException"/>.
    /// </summary>
    public async Task<HttpResponseMessage> SendJsonAsync(ProviderSettings provider, HttpRequestMessage message, ReadOnlyMemory<byte> utf8Body,
        Func<HttpResponseMessage, Task<UpstreamException>> failure, CancellationToken cancellationToken)
    {
        message.Content = new ReadOnlyMemoryContent(utf8Body);
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        HttpResponseMessage response;
        try
        {
            response = await For(provider).SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            throw UpstreamErrors.FromTransport(exception, provider.Name);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await failure(response);
        }
    }

    /// <summary>A translated request body as UTF-8 JSON.</summary>
    public static byte[] Utf8(System.Text.Json.Nodes.JsonObject body) =>
        System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(body, OpenAi.ProviderJsonContext.Default.JsonObject);

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
