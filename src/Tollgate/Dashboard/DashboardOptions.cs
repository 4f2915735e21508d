namespace Tollgate.Dashboard;

/// <summary>The web dashboard (<c>Tollgate:Dashboard</c>).</summary>
internal sealed class DashboardOptions
{
    public const string Section = "Tollgate:Dashboard";

    /// <summary>
    /// Who may create an account in the browser: <c>open</c> (anyone), <c>invite</c> (someone with a link an
    /// owner or admin made; the default) or <c>closed</c> (nobody; accounts come from the command line). The
    /// first-run owner link works in every mode.
    /// </summary>
    public string Registration { get; set; } = "invite";

    /// <summary>How long a sign-in lasts without a visit (sliding); "keep me signed in" makes it survive the browser closing.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// The address people and programs reach this Tollgate at (<c>https://llm.example.com</c>), for the links
    /// and snippets the dashboard shows and the first-run link; unset, the address of the request (or the
    /// first address the server listens on).
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>Optional single sign-on with an OpenID Connect provider.</summary>
    public OidcSettings Oidc { get; set; } = new();

    public bool IsOpen => string.Equals(Registration, "open", StringComparison.OrdinalIgnoreCase);

    public bool IsClosed => string.Equals(Registration, "closed", StringComparison.OrdinalIgnoreCase);

    public IEnumerable<string> Validate()
    {
        if (Registration?.ToLowerInvariant() is not ("open" or "invite" or "closed"))
        {
            yield return $"{Section}:Registration must be open, invite or closed, not '{Registration}'";
        }

        if (SessionLifetime < TimeSpan.FromMinutes(5) || SessionLifetime > TimeSpan.FromDays(90))
        {
            yield return $"{Section}:SessionLifetime must be between 00:05:00 and 90.00:00:00";
        }

        if (PublicBaseUrl is { Length: > 0 } url &&
            (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Query.Length > 0))
        {
            yield return $"{Section}:PublicBaseUrl must be an http or https address without a query, such as https://llm.example.com";
        }

        foreach (var error in Oidc.Validate())
        {
            yield return error;
        }
    }
}

/// <summary>OpenID Connect sign-in (<c>Tollgate:Dashboard:Oidc</c>): on when <see cref="Authority"/> is set.</summary>
internal sealed class OidcSettings
{
    /// <summary>The issuer, e.g. <c>https://login.microsoftonline.com/TENANT/v2.0</c> or <c>https://accounts.google.com</c>.</summary>
    public string? Authority { get; set; }

    public string? ClientId { get; set; }

    /// <summary>The client secret. Never logged, never shown.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>The button's words: "Sign in with {DisplayName}".</summary>
    public string DisplayName { get; set; } = "single sign-on";

    /// <summary>
    /// When true, a person the provider vouches for (a verified e-mail address) who has no account gets a
    /// member account at first sign-in, whatever <see cref="DashboardOptions.Registration"/> says. Off by
    /// default: the provider's users need an account (or an open registration) first.
    /// </summary>
    public bool CreateAccounts { get; set; }

    /// <summary>Plain-HTTP authorities are refused unless this is set (for a provider on the same machine, in tests).</summary>
    public bool AllowHttp { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority);

    public IEnumerable<string> Validate()
    {
        if (!Enabled)
        {
            yield break;
        }

        if (!Uri.TryCreate(Authority, UriKind.Absolute, out var uri) || !(uri.Scheme == "https" || (AllowHttp && uri.Scheme == "http")))
        {
            yield return $"{DashboardOptions.Section}:Oidc:Authority must be an https address";
        }

        if (string.IsNullOrWhiteSpace(ClientId))
        {
            yield return $"{DashboardOptions.Section}:Oidc:ClientId is required when Oidc:Authority is set";
        }

        if (DisplayName.Length is 0 or > 40)
        {
            yield return $"{DashboardOptions.Section}:Oidc:DisplayName must be 1 to 40 characters";
        }
    }
}
