using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Caching.Memory;
using Tollgate.ApiKeys;
using Tollgate.Http;
using Tollgate.Models;

namespace Tollgate.Dashboard.Settings.Keys;

/// <summary>
/// Create API Key. The secret is shown once, in the answer to the POST itself (never in a redirect, a URL or TempData);
/// a re-post of the same form (a reload of that answer) creates nothing and says so.
/// </summary>
internal sealed class NewKeyModel(ApiKeyService keys, ModelCatalog catalog, IMemoryCache memory, TimeProvider time) : DashboardPage
{
    private static readonly TimeSpan NonceLifetime = TimeSpan.FromHours(6);

    [BindProperty]
    public KeyForm Form { get; set; } = new() { Scopes = [.. ApiKeyScopeNames.ToNames(ApiKeyScopes.Default)], Expiry = "never", LimitReset = "none" };

    public string Nonce { get; private set; } = NewNonce();

    public string? Error { get; private set; }

    public string? ErrorField { get; private set; }

    public bool AlreadyCreated { get; private set; }

    public SecretView? Created { get; private set; }

    public KeyFormView FormView => new(Form, catalog.Models, ShowScopes: true, Account.IsAdmin, ErrorField);

    public async Task<IActionResult> OnPostAsync(string? nonce)
    {
        if (nonce is not { Length: 32 } || memory.TryGetValue(NonceKey(nonce), out _))
        {
            AlreadyCreated = nonce is { Length: 32 };
            Response.StatusCode = StatusCodes.Status409Conflict;
            return Page();
        }

        try
        {
            var changes = Form.ToChanges(time.GetUtcNow(), TimeZone, includeScopes: true);
            var created = await keys.CreateAsync(Account.Id, caller: null, changes, HttpContext.RequestAborted);
            memory.Set(NonceKey(nonce), true, NonceLifetime);
            Created = new SecretView(created.Secret, created.Key, BaseUrl, FirstModel(created.Key));
            return Page();
        }
        catch (ApiException exception) when (exception.StatusCode is StatusCodes.Status400BadRequest or StatusCodes.Status403Forbidden)
        {
            Error = exception.Message;
            ErrorField = exception.Metadata.GetValueOrDefault("param") as string;
            Nonce = nonce;
            Response.StatusCode = exception.StatusCode;
            return Page();
        }
    }

    private string NonceKey(string nonce) => $"dashboard:new-key:{Account.Id}:{nonce}";

    private string FirstModel(ApiKey key)
    {
        var models = catalog.Models.Where(m => ModelAllowList.IsAllowed(key.Models, m.Id)).Select(m => m.Id).ToList();
        return models.Contains(DemoSettings.ModelId) ? DemoSettings.ModelId : models.FirstOrDefault() ?? DemoSettings.ModelId;
    }

    private static string NewNonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
