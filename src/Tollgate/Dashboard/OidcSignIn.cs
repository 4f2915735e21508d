using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Tollgate.Accounts;

namespace Tollgate.Dashboard;

/// <summary>
/// Sign-in with an OpenID Connect provider (authorization code with PKCE). The provider's verified e-mail
/// address finds the account; a person without one is turned away unless registration is open or
/// <see cref="OidcSettings.CreateAccounts"/> is on. The session that follows is the dashboard's own cookie,
/// with the same security-stamp checks as a password sign-in.
/// </summary>
internal static partial class OidcSignIn
{
    public const string Scheme = "oidc";
    public const string StartPath = "/signin/oidc";

    public static WebApplicationBuilder AddOidcSignIn(this WebApplicationBuilder builder)
    {
        var settings = builder.Configuration.GetSection(DashboardOptions.Section + ":Oidc").Get<OidcSettings>() ?? new OidcSettings();
        if (!settings.Enabled)
        {
            return builder;
        }

        builder.Services.AddAuthentication().AddOpenIdConnect(Scheme, oidc =>
        {
            oidc.SignInScheme = DashboardSession.Scheme;
            oidc.Authority = settings.Authority;
            oidc.ClientId = settings.ClientId;
            oidc.ClientSecret = settings.ClientSecret;
            oidc.RequireHttpsMetadata = !settings.AllowHttp;
            oidc.ResponseType = OpenIdConnectResponseType.Code;

            // The code comes back in the query of a top-level GET, so the correlation and nonce cookies can stay
            // SameSite=Lax (a cross-site form_post would need SameSite=None, which browsers refuse without HTTPS).
            oidc.ResponseMode = OpenIdConnectResponseMode.Query;
            oidc.UsePkce = true;
            oidc.SaveTokens = false;
            oidc.MapInboundClaims = false;
            oidc.GetClaimsFromUserInfoEndpoint = false;
            oidc.CallbackPath = "/signin/oidc/callback";
            oidc.Scope.Clear();
            foreach (var scope in (string[])["openid", "email", "profile"])
            {
                oidc.Scope.Add(scope);
            }

            oidc.CorrelationCookie.SameSite = SameSiteMode.Lax;
            oidc.NonceCookie.SameSite = SameSiteMode.Lax;
            oidc.Events.OnTokenValidated = OnTokenValidatedAsync;
            oidc.Events.OnRemoteFailure = context =>
            {
                var reason = context.Failure is OidcRefusal refusal ? refusal.Reason : "failed";
                Log.Failed(context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OidcSignIn)), reason);
                context.Response.Redirect("/signin?error=oidc_" + reason);
                context.HandleResponse();
                return Task.CompletedTask;
            };
        });
        return builder;
    }

    private static async Task OnTokenValidatedAsync(TokenValidatedContext context)
    {
        var services = context.HttpContext.RequestServices;
        var accounts = services.GetRequiredService<AccountService>();
        var dashboard = services.GetRequiredService<IOptions<DashboardOptions>>().Value;
        var claims = context.Principal!;
        var email = claims.FindFirstValue("email");
        var verified = claims.FindFirstValue("email_verified");

        // An unverified address could be anyone's: it never finds or makes an account.
        if (string.IsNullOrWhiteSpace(email) || !string.Equals(verified, "true", StringComparison.OrdinalIgnoreCase))
        {
            context.Fail(new OidcRefusal("unverified"));
            return;
        }

        var cancellationToken = context.HttpContext.RequestAborted;
        var account = await accounts.FindByEmailAsync(email, cancellationToken);
        if (account is null)
        {
            if (!(dashboard.IsOpen || dashboard.Oidc.CreateAccounts))
            {
                context.Fail(new OidcRefusal("no_account"));
                return;
            }

            try
            {
                // The account gets an unusable random password: it signs in with the provider until it sets one.
                account = (await accounts.CreateAsync(email, claims.FindFirstValue("name"), AccountRole.Member, null, cancellationToken)).Account;
            }
            catch (ArgumentException)
            {
                context.Fail(new OidcRefusal("no_account"));
                return;
            }
        }

        if (account.Disabled)
        {
            context.Fail(new OidcRefusal("disabled"));
            return;
        }

        context.Principal = DashboardSession.Principal(account);
        context.Properties!.IsPersistent = false;
    }

    private sealed class OidcRefusal(string reason) : Exception($"OpenID Connect sign-in refused: {reason}")
    {
        public string Reason { get; } = reason;
    }

    private static partial class Log
    {
        [LoggerMessage(420, LogLevel.Warning, "OpenID Connect sign-in did not complete: {Reason}")]
        public static partial void Failed(ILogger logger, string reason);
    }
}
