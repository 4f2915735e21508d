using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;

namespace Tollgate.Providers;

/// <summary>
/// One server-sent event: its <c>event:</c> name (null when absent) and its data lines joined, as
/// UTF-8. <see cref="Utf8Data"/> is only valid until the reader moves to the next event.
/// </summary>
internal readonly record struct ServerSentEvent(string? Event, ReadOnlyMemory<byte> Utf8Data)
{
    /// <summary>The data as text (a copy; the OpenAI path parses <see cref="Utf8Data"/> directly).</summary>
    public string Data => Encoding.UTF8.GetString(Utf8Data.Span);

    public bool DataIs(ReadOnlySpan<byte> utf8) => Utf8Data.Span.SequenceEqual(utf8);
}

/// <summary>
/// Reads an upstream's <c>text/event-stream</c> event by event as bytes arrive, never the
/// whole response at once, and without turning it into text: lines are found in the bytes and
/// an event's data is handed on as UTF-8 from one reused buffer. Comment lines (<c>: ...</c>) and
/// unknown fields are skipped; lines end with LF, CRLF or CR.
/// </summary>
internal static class ServerSentEvents
{
    /// <summary>Largest event accepted (a 5 MB chunk passes); past it the upstream is broken.</summary>
    public const int MaxEventBytes = 32 * 1024 * 1024;

    private static readonly StreamPipeReaderOptions ReaderOptions = new(bufferSize: 16 * 1024, minimumReadSize: 4 * 1024);

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
        var reader = PipeReader.Create(stream, ReaderOptions);
        var parser = new Parser();
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(cancellationToken);
                var buffer = read.Buffer;
                while (parser.TryReadEvent(ref buffer, out var next))
                {
                    // The data stays valid while the consumer looks at it: nothing is read meanwhile.
                    yield return next;
                    parser.EventConsumed();
                }

                if (read.IsCompleted)
                {
                    // A last event without its blank line still counts (some servers end that way).
                    if (parser.TryFinish(buffer, out var last))
                    {
                        yield return last;
                    }

                    yield break;
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>The line and field rules of the SSE format, over bytes.</summary>
    private sealed class Parser
    {
        private readonly ArrayBufferWriter<byte> _data = new(1024);
        private string? _eventName;
        private bool _hasData;
        private bool _skipLineFeed; // the previous line ended with CR: a LF right after it belongs to it

        /// <summary>Consumes whole lines from <paramref name="buffer"/> until an event is complete.</summary>
        public bool TryReadEvent(ref ReadOnlySequence<byte> buffer, out ServerSentEvent next)
        {
            var lines = new SequenceReader<byte>(buffer);
            try
            {
                while (true)
                {
                    if (_skipLineFeed && lines.TryPeek(out var first))
                    {
                        _skipLineFeed = false;
                        if (first == (byte)'\n')
                        {
                            lines.Advance(1);
                        }
                    }

                    if (!lines.TryReadToAny(out ReadOnlySequence<byte> line, "\r\n"u8, advancePastDelimiter: false))
                    {
                        if (lines.Remaining > MaxEventBytes)
                        {
                            throw TooLarge();
                        }

                        next = default;
                        return false;
                    }

                    lines.TryRead(out var delimiter);
                    _skipLineFeed = delimiter == (byte)'\r';
                    if (Line(line, out next))
                    {
                        return true;
                    }
                }
            }
            finally
            {
                buffer = buffer.Slice(lines.Position);
            }
        }

        public bool TryFinish(ReadOnlySequence<byte> rest, out ServerSentEvent last)
        {
            if (!rest.IsEmpty && Line(rest, out last))
            {
                return true;
            }

            last = new ServerSentEvent(_eventName, _data.WrittenMemory);
            return _hasData;
        }

        public void EventConsumed()
        {
            _eventName = null;
            _data.ResetWrittenCount();
            _hasData = false;
        }

        /// <summary>Applies one line; true when it was the blank line that completes an event with data.</summary>
        private bool Line(ReadOnlySequence<byte> sequence, out ServerSentEvent next)
        {
            next = default;
            if (sequence.IsEmpty)
            {
                if (_hasData)
                {
                    next = new ServerSentEvent(_eventName, _data.WrittenMemory);
                    return true;
                }

                EventConsumed();
                return false;
            }

            var line = sequence.IsSingleSegment ? sequence.FirstSpan : sequence.ToArray();
            if (line[0] == (byte)':')
            {
                return false;
            }

            var colon = line.IndexOf((byte)':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? [] : line[(colon + 1)..];
            if (value.Length > 0 && value[0] == (byte)' ')
            {
                value = value[1..];
            }

            if (field.SequenceEqual("data"u8))
            {
                if (_hasData)
                {
                    _data.Write("\n"u8);
                }

                if (_data.WrittenCount + value.Length > MaxEventBytes)
                {
                    throw TooLarge();
                }

                _data.Write(value);
                _hasData = true;
            }
            else if (field.SequenceEqual("event"u8))
            {
                _eventName = Encoding.UTF8.GetString(value);
            }

            return false;
        }

        private static UpstreamException TooLarge() =>
            new(StatusCodes.Status502BadGateway, "Upstream sent an event larger than 32 MB", retryable: false);
    }
}
