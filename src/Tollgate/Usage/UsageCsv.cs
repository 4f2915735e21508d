using System.Globalization;
using System.Text;
using Tollgate.Credits;

namespace Tollgate.Usage;

/// <summary>
/// The recent-calls list as CSV (RFC 4180): UTF-8 with a byte-order mark (so spreadsheets read it as UTF-8), CRLF
/// line ends, a header row, then one row per call, written as the calls arrive and flushed every
/// <see cref="FlushEvery"/> rows, never the whole file in memory. Times are ISO 8601 in the account's zone with its
/// offset; the cost of an unpriced call is left empty (unknown, not $0) and <c>unpriced</c> says so.
/// </summary>
/// <remarks>
/// Formula injection: X-Title and HTTP-Referer are the client's to choose, and key names and model ids are text too,
/// so a text cell that begins with <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, a tab or a carriage return gets a leading
/// <c>'</c>, which spreadsheets show as text instead of evaluating it. Numbers and times are written by this class and
/// never begin with one of those.
/// </remarks>
internal static class UsageCsv
{
    public const string ContentType = "text/csv; charset=utf-8";

    public static readonly string[] Columns =
    [
        "time", "model", "key", "app", "referer", "tokens_in", "tokens_out", "cost_usd", "unpriced", "latency_ms", "first_token_ms", "status",
        "streamed", "cancelled", "finish_reason", "generation_id", "key_id",
    ];

    private const int FlushEvery = 1000;

    /// <summary>Writes the header and at most <paramref name="maxRows"/> rows; says whether calls were left out.</summary>
    public static async Task<UsageExport> WriteAsync(IAsyncEnumerable<UsageCall> calls, TimeZoneInfo zone, Stream output, int maxRows,
        CancellationToken cancellationToken)
    {
        // Only asynchronous writes: ASP.NET Core refuses synchronous ones on a response body.
        await using var writer = new StreamWriter(output, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true), bufferSize: 16 * 1024, leaveOpen: true);
        var row = new StringBuilder(512);
        AppendRow(row, Columns);
        await writer.WriteAsync(row, cancellationToken);

        var rows = 0;
        var truncated = false;
        await foreach (var call in calls.WithCancellation(cancellationToken))
        {
            if (rows == maxRows)
            {
                truncated = true;
                break;
            }

            row.Clear();
            AppendCall(row, call, zone);
            await writer.WriteAsync(row, cancellationToken);
            if (++rows % FlushEvery == 0)
            {
                await writer.FlushAsync(cancellationToken);
            }
        }

        await writer.FlushAsync(cancellationToken);
        return new UsageExport(rows, truncated);
    }

    /// <summary>One text cell: made inert for spreadsheets, then quoted when it holds a quote, comma, CR or LF.</summary>
    public static string Cell(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        if (value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        return value.AsSpan().IndexOfAny("\",\r\n") < 0 ? value : "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    private static void AppendCall(StringBuilder row, UsageCall call, TimeZoneInfo zone)
    {
        var r = call.Record;
        var time = UsageTime.ToLocal(r.CreatedAt, zone).ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture);
        AppendRow(row,
        [
            time,
            Cell(r.Model),
            Cell(call.KeyName),
            Cell(r.AppTitle),
            Cell(r.HttpReferer),
            Number(r.PromptTokens),
            Number(r.CompletionTokens),
            r.Unpriced ? "" : Money.ToUsd(r.CostNanos).ToString(CultureInfo.InvariantCulture),
            r.Unpriced ? "true" : "false",
            Number(r.LatencyMs),
            r.FirstTokenMs is { } firstToken ? Number(firstToken) : "",
            Number(r.Status),
            r.Streamed ? "true" : "false",
            r.Cancelled ? "true" : "false",
            Cell(r.FinishReason),
            Cell(r.GenerationId),
            Cell(r.KeyId),
        ]);
    }

    private static void AppendRow(StringBuilder row, ReadOnlySpan<string> cells)
    {
        for (var i = 0; i < cells.Length; i++)
        {
            row.Append(i == 0 ? "" : ",").Append(cells[i]);
        }

        row.Append("\r\n");
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
