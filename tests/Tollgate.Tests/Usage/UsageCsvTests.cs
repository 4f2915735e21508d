using System.Text;
using Tollgate.Credits;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

/// <summary>The CSV export of the recent calls: RFC 4180 quoting, formula injection, the row cap, streaming.</summary>
public sealed class UsageCsvTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Noon = new(2026, 5, 13, 12, 0, 0, TimeSpan.Zero);
    private UsageDatabase _db = null!;

    public async ValueTask InitializeAsync() => _db = await UsageDatabase.CreateAsync();

    public ValueTask DisposeAsync()
    {
        _db.Dispose();
        return ValueTask.CompletedTask;
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("", "")]
    [InlineData("plain text", "plain text")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    [InlineData("two\r\nlines", "\"two\r\nlines\"")]
    [InlineData("=1+1", "'=1+1")]
    [InlineData("+1", "'+1")]
    [InlineData("-1", "'-1")]
    [InlineData("@SUM(A1:A9)", "'@SUM(A1:A9)")]
    [InlineData("\tTab", "'\tTab")]
    [InlineData("\rCR", "\"'\rCR\"")]
    [InlineData("=HYPERLINK(\"http://evil\",\"x\")", "\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"")]
    [InlineData("a=b", "a=b")]
    [InlineData(" =b", " =b")]
    [InlineData("ünïcödé ✓", "ünïcödé ✓")]
    public void Cell_TextOfTheClient_IsQuotedAndMadeInert(string? value, string expected) => Assert.Equal(expected, UsageCsv.Cell(value));

    [Fact]
    public async Task Export_HostileTitlesAndNames_ParseBackToTheSameTextAndNeverStartAFormula()
    {
        var key = await _db.AddKeyAsync("ci, \"nightly\"");
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata");
        var hostile = _db.Call(key, Noon, "openai/gpt-4o", costNanos: 1_234_567) with
        {
            AppTitle = "=cmd|' /C calc'!A0",
            HttpReferer = "@evil.example/\"quoted\",comma",
            Streamed = true,
            FirstTokenMs = 250,
            LatencyMs = 900,
            FinishReason = "stop",
        };
        var unpriced = _db.Call(key, Noon.AddMinutes(-1), "local/llama", costNanos: 0) with
        {
            Unpriced = true,
            AppTitle = "line one\nline two",
            Status = 499,
            Cancelled = true,
        };
        await _db.WriteAsync(hostile, unpriced);
        using var output = new MemoryStream();

        var export = await _db.Service.ExportCsvAsync(UsageDatabase.AccountId, new UsageCallFilter(), zone, output, CancellationToken.None);

        var bytes = output.ToArray();
        Assert.Equal(new UsageExport(2, false), export);
        Assert.Equal([0xEF, 0xBB, 0xBF], bytes[..3]);
        var text = Encoding.UTF8.GetString(bytes, 3, bytes.Length - 3);
        Assert.EndsWith("\r\n", text, StringComparison.Ordinal);
        var rows = Parse(text);
        Assert.Equal(UsageCsv.Columns, rows[0]);
        Assert.Equal(3, rows.Count);
        var first = Row(rows, 1);
        Assert.Equal("2026-05-13T17:30:00.000+05:30", first["time"]);
        Assert.Equal("openai/gpt-4o", first["model"]);
        Assert.Equal("ci, \"nightly\"", first["key"]);
        Assert.Equal("'=cmd|' /C calc'!A0", first["app"]);
        Assert.Equal("'@evil.example/\"quoted\",comma", first["referer"]);
        Assert.Equal(("10", "20", "0.001234567", "false"), (first["tokens_in"], first["tokens_out"], first["cost_usd"], first["unpriced"]));
        Assert.Equal(("900", "250", "200", "true", "false", "stop"),
            (first["latency_ms"], first["first_token_ms"], first["status"], first["streamed"], first["cancelled"], first["finish_reason"]));
        Assert.Equal((hostile.GenerationId, key), (first["generation_id"], first["key_id"]));
        var second = Row(rows, 2);
        Assert.Equal("line one\nline two", second["app"]);
        Assert.Equal(("", "true", "", "499", "true"), (second["cost_usd"], second["unpriced"], second["first_token_ms"], second["status"], second["cancelled"]));
        Assert.All(rows.SelectMany(r => r), cell => Assert.False(cell.Length > 0 && cell[0] is '=' or '+' or '-' or '@' or '\t' or '\r'));
    }

    [Fact]
    public async Task Export_Filtered_OnlyTheMatchingCallsNewestFirst()
    {
        var main = await _db.AddKeyAsync("main");
        var other = await _db.AddKeyAsync("other");
        await _db.WriteAsync(_db.Call(main, Noon), _db.Call(other, Noon.AddSeconds(1)), _db.Call(main, Noon.AddSeconds(2)));
        using var output = new MemoryStream();

        var export = await _db.Service.ExportCsvAsync(UsageDatabase.AccountId, new UsageCallFilter(KeyId: main), TimeZoneInfo.Utc, output, CancellationToken.None);

        var rows = Parse(Encoding.UTF8.GetString(output.ToArray(), 3, (int)output.Length - 3));
        Assert.Equal(2, export.Rows);
        Assert.Equal(["2026-05-13T12:00:02.000+00:00", "2026-05-13T12:00:00.000+00:00"], rows.Skip(1).Select(r => r[0]));
    }

    [Fact]
    public async Task Export_MoreCallsThanOneReadPage_StreamsEveryRowOnceWithAsynchronousWritesOnly()
    {
        var key = await _db.AddKeyAsync("bulk");
        var calls = Enumerable.Range(0, 2_345).Select(i => _db.Call(key, Noon.AddMilliseconds(i / 3))).ToArray();
        await _db.WriteAsync(calls);
        using var output = new AsyncOnlyStream();

        var export = await _db.Service.ExportCsvAsync(UsageDatabase.AccountId, new UsageCallFilter(), TimeZoneInfo.Utc, output, CancellationToken.None);

        var rows = Parse(Encoding.UTF8.GetString(output.ToArray(), 3, (int)output.Length - 3));
        Assert.Equal(new UsageExport(2_345, false), export);
        Assert.Equal(calls.OrderByDescending(c => c.CreatedAt).ThenByDescending(c => c.GenerationId, StringComparer.Ordinal).Select(c => c.GenerationId),
            rows.Skip(1).Select(r => r[Array.IndexOf(UsageCsv.Columns, "generation_id")]));
        Assert.True(output.Writes > 10, $"{output.Writes} writes: the file went out in pieces, not at the end");
    }

    [Theory]
    [InlineData(5, 3, 3, true)]
    [InlineData(3, 3, 3, false)]
    [InlineData(0, 3, 0, false)]
    public async Task WriteAsync_RowCap_StopsThereAndSaysSo(int calls, int cap, int rows, bool truncated)
    {
        var key = await _db.AddKeyAsync("k");
        var records = Enumerable.Range(0, calls).Select(i => new UsageCall(_db.Call(key, Noon.AddSeconds(i)), "k")).ToArray();
        using var output = new MemoryStream();

        var export = await UsageCsv.WriteAsync(records.ToAsyncEnumerable(), TimeZoneInfo.Utc, output, cap, CancellationToken.None);

        Assert.Equal(new UsageExport(rows, truncated), export);
        Assert.Equal(rows + 1, Parse(Encoding.UTF8.GetString(output.ToArray(), 3, (int)output.Length - 3)).Count);
    }

    [Fact]
    public void MaxExportRows_IsTheDocumentedHundredThousand() => Assert.Equal(100_000, UsageService.MaxExportRows);

    private static Dictionary<string, string> Row(List<string[]> rows, int index) =>
        UsageCsv.Columns.Select((name, i) => (name, rows[index][i])).ToDictionary(c => c.name, c => c.Item2);

    /// <summary>A strict RFC 4180 reader: CRLF between records, quoted fields with doubled quotes.</summary>
    private static List<string[]> Parse(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var cell = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            if (text[i] == '"')
            {
                i++;
                while (true)
                {
                    Assert.True(i < text.Length, "unterminated quoted field");
                    if (text[i] == '"' && i + 1 < text.Length && text[i + 1] == '"')
                    {
                        cell.Append('"');
                        i += 2;
                    }
                    else if (text[i] == '"')
                    {
                        i++;
                        break;
                    }
                    else
                    {
                        cell.Append(text[i++]);
                    }
                }
            }

            while (i < text.Length && text[i] != ',' && text[i] != '\r')
            {
                Assert.NotEqual('"', text[i]);
                Assert.NotEqual('\n', text[i]);
                cell.Append(text[i++]);
            }

            row.Add(cell.ToString());
            cell.Clear();
            if (i < text.Length && text[i] == ',')
            {
                i++;
                continue;
            }

            Assert.True(i + 1 < text.Length && text[i] == '\r' && text[i + 1] == '\n', "records end with CRLF");
            i += 2;
            Assert.Equal(UsageCsv.Columns.Length, row.Count);
            rows.Add([.. row]);
            row.Clear();
        }

        return rows;
    }

    /// <summary>Like a Kestrel response body: synchronous writes are refused; counts the writes that reach it.</summary>
    private sealed class AsyncOnlyStream : Stream
    {
        private readonly MemoryStream _inner = new();

        public int Writes { get; private set; }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _inner.Length;

        public override long Position { get => _inner.Position; set => throw new NotSupportedException(); }

        public byte[] ToArray() => _inner.ToArray();

        public override void Write(byte[] buffer, int offset, int count) => throw new InvalidOperationException("Synchronous operations are disallowed");

        public override void Flush() => throw new InvalidOperationException("Synchronous operations are disallowed");

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes++;
            _inner.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
