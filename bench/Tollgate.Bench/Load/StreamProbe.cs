using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Tollgate.Bench.Stack;

namespace Tollgate.Bench.Load;

/// <summary>One streamed answer as the client saw it.</summary>
/// <param name="Ok">A 2xx status, content events and <c>[DONE]</c>.</param>
/// <param name="TtftMs">From sending the request to the first event with content.</param>
/// <param name="GapsMs">The time between consecutive content events.</param>
/// <param name="ContentEvents">Events that carried content (Tollgate's own usage chunk has none and is not counted).</param>
internal sealed record StreamResult(bool Ok, double TtftMs, IReadOnlyList<double> GapsMs, int ContentEvents, string? Error);

/// <summary>
/// The benchmark's own streaming client: sends the chat request with <c>"stream": true</c>, reads
/// the body as it arrives and timestamps every SSE <c>data:</c> event that carries content.
/// </summary>
internal sealed class StreamProbe : IDisposable
{
    private readonly HttpClient _client = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    public async Task<StreamResult> RunAsync(ChatEndpoint endpoint, CancellationToken cancellationToken)
    {
        using var request = ChatRequests.Create(endpoint, stream: true);
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                return new StreamResult(false, double.NaN, [], 0, $"{(int)response.StatusCode} {body[..Math.Min(body.Length, 300)]}");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            var times = new List<long>(FakeUpstreams.StreamChunks);
            var done = false;
            var buffer = new byte[16 * 1024];
            var pending = new List<byte>();
            int read;
            while (!done && (read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                var now = Stopwatch.GetTimestamp();
                pending.AddRange(buffer.AsSpan(0, read));
                int newline;
                while (!done && (newline = pending.IndexOf((byte)'\n')) >= 0)
                {
                    var line = Encoding.UTF8.GetString(pending.GetRange(0, newline).ToArray()).TrimEnd('\r');
                    pending.RemoveRange(0, newline + 1);
                    if (!line.StartsWith("data:", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var data = line["data:".Length..].Trim();
                    if (data == "[DONE]")
                    {
                        done = true;
                    }
                    else if (HasContent(data))
                    {
                        times.Add(now);
                    }
                }
            }

            if (times.Count == 0 || !done)
            {
                return new StreamResult(false, double.NaN, [], times.Count, done ? "no content events" : "the stream ended without [DONE]");
            }

            var gaps = new List<double>(times.Count);
            for (var i = 1; i < times.Count; i++)
            {
                gaps.Add(Stopwatch.GetElapsedTime(times[i - 1], times[i]).TotalMilliseconds);
            }

            return new StreamResult(true, Stopwatch.GetElapsedTime(started, times[0]).TotalMilliseconds, gaps, times.Count, null);
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new StreamResult(false, double.NaN, [], 0, exception.Message);
        }
    }

    /// <summary>True for a chunk whose first choice's delta has non-empty content.</summary>
    private static bool HasContent(string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.TryGetProperty("choices", out var choices)
                && choices.ValueKind == JsonValueKind.Array
                && choices.GetArrayLength() > 0
                && choices[0].TryGetProperty("delta", out var delta)
                && delta.TryGetProperty("content", out var content)
                && content.ValueKind == JsonValueKind.String
                && content.GetString()!.Length > 0;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public void Dispose() => _client.Dispose();
}
