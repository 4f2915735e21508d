using System.Runtime.CompilerServices;
using System.Text;

namespace Tollgate.Providers;

/// <summary>One server-sent event: its <c>event:</c> name (null when absent) and its data lines joined.</summary>
internal readonly record struct ServerSentEvent(string? Event, string Data);

/// <summary>
/// Reads an upstream's <c>text/event-stream</c> event by event as bytes arrive, never the
/// whole response at once. Comment lines (<c>: ...</c>) and unknown fields are skipped.
/// </summary>
internal static class ServerSentEvents
{
    /// <summary>Largest event accepted (a 5 MB chunk passes); past it the upstream is broken.</summary>
    public const int MaxEventChars = 32 * 1024 * 1024;

    /// <summary>
    /// An upstream's response body as events; a connection that breaks becomes
    /// <see cref="UpstreamException"/> (502 "Upstream connection lost"), so providers deal in one failure type.
    /// </summary>
    public static async IAsyncEnumerable<ServerSentEvent> ReadUpstreamAsync(
        HttpResponseMessage response, string providerName, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Stream stream;
        try
        {
            stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            throw UpstreamErrors.FromTransport(exception, providerName);
        }

        await using var events = ReadAsync(stream, cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            ServerSentEvent next;
            try
            {
                if (!await events.MoveNextAsync())
                {
                    yield break;
                }

                next = events.Current;
            }
            catch (Exception exception) when (exception is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                throw UpstreamErrors.FromTransport(exception, providerName);
            }

            yield return next;
        }
    }

    public static async IAsyncEnumerable<ServerSentEvent> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 16 * 1024);
        string? eventName = null;
        var data = new StringBuilder();
        var hasData = false;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (hasData)
                {
                    yield return new ServerSentEvent(eventName, data.ToString());
                }

                eventName = null;
                data.Clear();
                hasData = false;
                continue;
            }

            if (line[0] == ':')
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' '))
            {
                value = value[1..];
            }

            switch (field)
            {
                case "event":
                    eventName = value;
                    break;
                case "data":
                    if (hasData)
                    {
                        data.Append('\n');
                    }

                    data.Append(value);
                    hasData = true;
                    if (data.Length > MaxEventChars)
                    {
                        throw new UpstreamException(StatusCodes.Status502BadGateway, "Upstream sent an event larger than 32 MB", retryable: false);
                    }

                    break;
            }
        }

        // A last event without its blank line still counts (some servers end that way).
        if (hasData)
        {
            yield return new ServerSentEvent(eventName, data.ToString());
        }
    }
}
