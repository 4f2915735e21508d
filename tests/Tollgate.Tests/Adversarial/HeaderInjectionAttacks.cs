using System.Net;
using System.Text;
using Microsoft.Data.Sqlite;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Headers a hostile client sends to be recorded on its usage record (<c>X-Title</c>, <c>HTTP-Referer</c>,
/// <c>X-Task-ID</c>) and shown later in the dashboard, CSV exports and terminals: control characters and
/// ANSI escapes are stripped, and the length cut never splits a character.
/// </summary>
public sealed class HeaderInjectionAttacks(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    private const string Esc = "\u001b";
    private const string Bel = "\u0007";

    // Issue 9, item 19
    [Fact]
    public async Task UsageLog_AnsiEscapesInXTitle_AreStoredWithoutTheirControlCharacters()
    {
        var record = await CallAndReadRecordAsync(("X-Title", $"{Esc}[2J{Esc}[31mEvil{Esc}[0m App{Bel}"));

        Assert.Equal("[2J[31mEvil[0m App", record.AppTitle);
    }

    // Issue 9, item 19
    [Fact]
    public async Task UsageLog_TerminalHyperlinkAndC1ControlsInHttpReferer_AreStripped()
    {
        // OSC 8 (a hidden link), C1 CSI (U+009B), NEL (U+0085), DEL and a tab.
        var record = await CallAndReadRecordAsync(("HTTP-Referer", $"https://ok.example/{Esc}]8;;https://evil.example{Bel}click{Esc}]8;;{Bel}\u009b31m\u0085\u007f\tend"));

        Assert.Equal("https://ok.example/]8;;https://evil.exampleclick]8;;31mend", record.Referer);
    }

    // Issue 9, item 19
    [Fact]
    public async Task UsageLog_ControlCharactersInXTaskId_AreStripped_AndOnlyControlsIsAbsent()
    {
        var record = await CallAndReadRecordAsync(("X-Task-ID", $"task{Esc}[8m-42{Bel}"), ("X-Title", $"{Esc}{Bel}\u009b"));

        Assert.Equal("task[8m-42", record.TaskId);
        Assert.Null(record.AppTitle);
    }

    // Issue 9, item 19
    [Fact]
    public async Task UsageLog_TitleCutAtTheLengthLimit_NeverSplitsASurrogatePair()
    {
        // 511 characters, then an emoji (two UTF-16 units) across the 512-character limit.
        var record = await CallAndReadRecordAsync(("X-Title", new string('a', 511) + "\U0001F600 tail"));

        Assert.Equal(new string('a', 511), record.AppTitle);
    }

    private async Task<(string? AppTitle, string? Referer, string? TaskId)> CallAndReadRecordAsync(params (string Name, string Value)[] headers)
    {
        var ct = TestContext.Current.CancellationToken;
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);

        // Header values as UTF-8 bytes, as a client outside .NET sends them.
        using var handler = new SocketsHttpHandler { RequestHeaderEncodingSelector = (_, _) => Encoding.UTF8 };
        using var client = new HttpClient(handler) { BaseAddress = factory.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions")
        {
            Content = Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"hi"}]}"""),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", secret);
        foreach (var (name, value) in headers)
        {
            Assert.True(request.Headers.TryAddWithoutValidation(name, value));
        }

        using var response = await client.SendAsync(request, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var generationId = response.Headers.GetValues("X-Generation-Id").Single();

        await factory.Service<BillingWriter>().FlushAsync(ct);
        using var connection = new SqliteConnection($"Data Source={factory.DatabasePath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT app_title, http_referer, task_id FROM usage_records WHERE generation_id = $g";
        command.Parameters.AddWithValue("$g", generationId);
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        var record = (reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
        await LedgerAudit.AssertBooksBalanceAsync(factory, account.Id);
        return record;
    }
}
