using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.Models;

namespace Tollgate.Dashboard.Settings.Keys;

/// <summary>One key: its spend, edit, disable or enable, rotate with a grace period (the new secret shown once). Another account's id is a 404.</summary>
internal sealed class KeyModel(ApiKeyService keys, IBillingStore billing, ModelCatalog catalog, IOptions<ApiKeyOptions> options, TimeProvider time)
    : DashboardPage
{
    public KeyRow Row { get; private set; } = null!;

    [BindProperty]
    public KeyForm Form { get; set; } = new();

    public string? Error { get; private set; }

    public string? ErrorField { get; private set; }

    public SecretView? Rotated { get; private set; }

    public KeyFormView FormView => new(Form, catalog.Models, ShowScopes: true, Account.IsAdmin, ErrorField);

    public IEnumerable<(int Seconds, string Label)> GraceChoices =>
        new[] { (0, "Stop the old secret at once"), (3600, "Old secret works 1 more hour"), (86400, "Old secret works 1 more day"), (604800, "Old secret works 7 more days") }
            .Where(c => c.Item1 <= options.Value.MaxRotationGrace.TotalSeconds);

    public async Task<IActionResult> OnGetAsync(string id)
    {
        if (!await LoadAsync(id))
        {
            return NotFound();
        }

        Form = KeyForm.From(Row.Key, TimeZone, catalog.Models.Select(m => m.Id).ToArray());
        return Page();
    }

    public async Task<IActionResult> OnPostEditAsync(string id)
    {
        if (!await LoadAsync(id))
        {
            return NotFound();
        }

        try
        {
            var changes = Form.ToChanges(time.GetUtcNow(), TimeZone, includeScopes: true);
            await keys.UpdateAsync(Account.Id, caller: null, id, changes, HttpContext.RequestAborted);
        }
        catch (ApiException exception) when (exception.StatusCode is StatusCodes.Status400BadRequest or StatusCodes.Status403Forbidden)
        {
            Error = exception.Message;
            ErrorField = exception.Metadata.GetValueOrDefault("param") as string;
            Response.StatusCode = exception.StatusCode;
            return Page();
        }

        Notice = "Key saved.";
        return RedirectToPage(new { id });
    }

    public async Task<IActionResult> OnPostToggleAsync(string id, bool disabled)
    {
        if (!await LoadAsync(id))
        {
            return NotFound();
        }

        await keys.UpdateAsync(Account.Id, caller: null, id, new ApiKeyChanges { Disabled = disabled }, HttpContext.RequestAborted);
        Notice = disabled ? "Key disabled: it is refused from the next request." : "Key enabled.";
        return RedirectToPage(new { id });
    }

    public async Task<IActionResult> OnPostRotateAsync(string id, int grace)
    {
        if (!await LoadAsync(id))
        {
            return NotFound();
        }

        var seconds = Math.Clamp(grace, 0, (int)options.Value.MaxRotationGrace.TotalSeconds);
        var rotated = await keys.RotateAsync(Account.Id, caller: null, id, TimeSpan.FromSeconds(seconds), HttpContext.RequestAborted);
        var models = catalog.Models.Where(m => ModelAllowList.IsAllowed(rotated.Key.Models, m.Id)).Select(m => m.Id).ToList();
        Rotated = new SecretView(rotated.Secret, rotated.Key, BaseUrl,
            models.Contains(DemoSettings.ModelId) ? DemoSettings.ModelId : models.FirstOrDefault() ?? DemoSettings.ModelId,
            seconds > 0 ? time.GetUtcNow().AddSeconds(seconds) : null);
        return Page();
    }

    private async Task<bool> LoadAsync(string id)
    {
        ApiKey key;
        try
        {
            key = await keys.GetAsync(Account.Id, id, HttpContext.RequestAborted);
        }
        catch (ApiException exception) when (exception.StatusCode == StatusCodes.Status404NotFound)
        {
            return false;
        }

        var now = time.GetUtcNow();
        Row = new KeyRow(key, await billing.GetKeySpendAsync(key.Id, now, HttpContext.RequestAborted), now);
        return true;
    }
}
