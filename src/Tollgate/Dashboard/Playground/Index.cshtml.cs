using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Tollgate.Credits;
using Tollgate.Models;
using Tollgate.Usage;

namespace Tollgate.Dashboard.Playground;

/// <summary>
/// The playground: try any model of the catalogue from the browser, streamed, billed to the account like an API call
/// (through <see cref="PlaygroundApi"/>), with the equivalent curl beside it. <c>?model=</c> picks a model, and
/// <c>?replay=GENERATION_ID</c> opens a logged call with its model (Tollgate keeps no prompts). Without JavaScript, sending
/// the form shows the curl for it.
/// </summary>
internal sealed class PlaygroundModel(ModelCatalog catalog, IUsageStore usage) : DashboardPage
{
    public const int MaxPromptLength = 100_000;

    public IReadOnlyList<ModelDefinition> Models => catalog.Models;

    public UsageRecord? Replay { get; private set; }

    [BindProperty]
    public PlaygroundForm Form { get; set; } = new();

    /// <summary>True after a post without JavaScript: the curl is for what was sent.</summary>
    public bool ShowedCurlOnly { get; private set; }

    internal sealed class PlaygroundForm
    {
        public string? Model { get; set; }

        public string? System { get; set; }

        public string? Prompt { get; set; }

        public string? Temperature { get; set; }

        public int? MaxTokens { get; set; } = 512;

        public bool Stream { get; set; } = true;
    }

    public async Task<IActionResult> OnGetAsync(string? model, string? replay)
    {
        if (replay is { Length: > 0 and <= 64 })
        {
            Replay = await usage.FindGenerationAsync(Account.Id, replay, HttpContext.RequestAborted);
            if (Replay is null)
            {
                return NotFound();
            }

            model = Replay.Model;
        }

        Form.Model = catalog.TryGet(model ?? "", out var chosen) ? chosen.Id : DefaultModel;
        return Page();
    }

    public IActionResult OnPost()
    {
        Form.Model = catalog.TryGet(Form.Model ?? "", out var chosen) ? chosen.Id : DefaultModel;
        Form.System = Bound(Form.System);
        Form.Prompt = Bound(Form.Prompt);
        ShowedCurlOnly = true;
        return Page();
    }

    private static string? Bound(string? text) => text is { Length: > MaxPromptLength } ? text[..MaxPromptLength] : text;

    public string DefaultModel =>
        catalog.TryGet(DemoSettings.ModelId, out _) ? DemoSettings.ModelId : catalog.Models.Count > 0 ? catalog.Models[0].Id : DemoSettings.ModelId;

    /// <summary>The request the form makes, as the API takes it (the same JSON the playground's script sends).</summary>
    public string RequestJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("model", Form.Model ?? DefaultModel);
            json.WriteStartArray("messages");
            if (!string.IsNullOrWhiteSpace(Form.System))
            {
                json.WriteStartObject();
                json.WriteString("role", "system");
                json.WriteString("content", Form.System);
                json.WriteEndObject();
            }

            json.WriteStartObject();
            json.WriteString("role", "user");
            json.WriteString("content", string.IsNullOrEmpty(Form.Prompt) ? "Hello!" : Form.Prompt);
            json.WriteEndObject();
            json.WriteEndArray();
            if (decimal.TryParse(Form.Temperature, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var temperature) && temperature <= 2)
            {
                json.WriteNumber("temperature", temperature);
            }

            if (Form.MaxTokens is > 0 and var max)
            {
                json.WriteNumber("max_tokens", max);
            }

            if (Form.Stream)
            {
                json.WriteBoolean("stream", true);
            }

            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The same call with curl, for a shell: the key comes from <c>$TOLLGATE_API_KEY</c>, never from the page.</summary>
    public string Curl() =>
        $"curl {BaseUrl}/api/v1/chat/completions \\\n" +
        "  -H \"Authorization: Bearer $TOLLGATE_API_KEY\" \\\n" +
        "  -H \"Content-Type: application/json\" \\\n" +
        (Form.Stream ? "  -N \\\n" : "") +
        "  -d '" + RequestJson().Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
