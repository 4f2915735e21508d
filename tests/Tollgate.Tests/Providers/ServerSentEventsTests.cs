using System.Text;
using Tollgate.Providers;

namespace Tollgate.Tests.Providers;

/// <summary>The SSE reader over bytes: line endings, multi-line data, comments, and events split anywhere by the network.</summary>
public sealed class ServerSentEventsTests
{
    private static async Task<List<(string? Event, string Data)>> ReadAsync(string wire, int pieceSize)
    {
        var events = new List<(string?, string)>();
        await foreach (var next in ServerSentEvents.ReadAsync(new TricklingStream(Encoding.UTF8.GetBytes(wire), pieceSize), CancellationToken.None))
        {
            events.Add((next.Event, next.Data));
        }

        return events;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task Events_AreTheSameHoweverTheBytesArrive(int pieceSize)
    {
        const string wire =
            ": TOLLGATE PROCESSING\n\n" +
            "data: {\"a\":1}\n\n" +
            "event: message_start\r\ndata: {\"b\":\"é 🚀\"}\r\n\r\n" +
            "data: line one\ndata: line two\n\n" +
            "data:no space\rretry: 10\r\r" +
            "id: 7\nunknown: x\n\n" + // no data: no event
            "data: [DONE]"; // the last event without its blank line
        var events = await ReadAsync(wire, pieceSize);
        Assert.Equal(
            [(null, "{\"a\":1}"), ("message_start", "{\"b\":\"é 🚀\"}"), (null, "line one\nline two"), (null, "no space"), (null, "[DONE]")],
            events);
    }

    [Fact]
    public async Task AnEventLargerThanTheReadBuffer_ArrivesWhole()
    {
        var big = new string('x', 200_000);
        var events = await ReadAsync($"data: {big}\n\ndata: after\n\n", 1000);
        Assert.Equal([(null, big), (null, "after")], events);
    }

    /// <summary>Hands out at most <c>pieceSize</c> bytes per read, as a slow network does.</summary>
    private sealed class TricklingStream(byte[] bytes, int pieceSize) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, pieceSize));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, pieceSize)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, pieceSize)], cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            base.ReadAsync(buffer, offset, Math.Min(count, pieceSize), cancellationToken);
    }
}
