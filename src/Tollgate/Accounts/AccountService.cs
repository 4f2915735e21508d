using System.Net.Mail;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Tollgate.Configuration;
using Tollgate.Credits;
using Tollgate.Storage;

namespace Tollgate.Accounts;

/// <summary>Creates accounts and checks passwords. Passwords are hashed with ASP.NET Core Identity's hasher.</summary>
internal sealed class AccountService(
    IAccountStore store,
    IBillingStore billing,
    ApiKeys.ApiKeyCache keyCache,
    Audit.AuditLog audit,
    IOptions<CreditsOptions> credits,
    TimeProvider time)
{
    public const int MaxPasswordLength = 256;
    public const int MinPasswordLength = 12;
    private const string PasswordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    private readonly PasswordHasher<Account> _hasher = new();

    /// <summary>The result of creating an account; <see cref="GeneratedPassword"/> is set when none was given.</summary>
    internal sealed record Created(Account Account, string? GeneratedPassword);

    /// <exception cref="ArgumentException">When a field is invalid or the e-mail address is taken; the message names it.</exception>
    public async Task<Created> CreateAsync(string email, string? displayName, AccountRole role, string? password, CancellationToken cancellationToken)
    {
        (email, displayName) = CheckIdentity(email, displayName);

        string? generated = null;
        if (password is null)
        {
            generated = password = RandomNumberGenerator.GetString(PasswordAlphabet, 20);
        }
        else
        {
            CheckPassword(password, nameof(password));
        }

        var account = new Account
        {
            Id = Ids.New("acc"),
            Email = email,
            DisplayName = displayName,
            Role = role,
            CreatedAt = time.GetUtcNow(),
            SecurityStamp = NewStamp(),
        };
        if (!await store.InsertAsync(account, _hasher.HashPassword(account, password), cancellationToken))
        {
            throw new ArgumentException($"An account with the e-mail address '{email}' already exists", nameof(email));
        }

        await GrantInitialCreditsAsync(account, cancellationToken);
        return new Created(account, generated);
    }

    /// <summary>Creates the account an invite allows, using the invite up in the same transaction.</summary>
    /// <exception cref="ArgumentException">A field is invalid, the address is taken, or the invite can no longer be used.</exception>
    public async Task<Account> CreateFromInviteAsync(Invite invite, string email, string? displayName, string password, CancellationToken cancellationToken)
    {
        var (normalizedEmail, name) = CheckIdentity(email, displayName);
        CheckPassword(password, nameof(password));
        if (invite.Email is { } invited && !string.Equals(invited, normalizedEmail, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException("This invitation is for another e-mail address", nameof(email));
        }

        var account = new Account
        {
            Id = Ids.New("acc"),
            Email = normalizedEmail,
            DisplayName = name,
            Role = invite.Role,
            CreatedAt = time.GetUtcNow(),
            SecurityStamp = NewStamp(),
        };
        switch (await store.InsertWithInviteAsync(account, _hasher.HashPassword(account, password), invite.Id, account.CreatedAt, cancellationToken))
        {
            case null:
                throw new ArgumentException("This invitation has been used, revoked or has expired", nameof(invite));
            case false:
                throw new ArgumentException($"An account with the e-mail address '{normalizedEmail}' already exists", nameof(email));
        }

        await GrantInitialCreditsAsync(account, cancellationToken);
        return account;
    }

    public Task<Account?> FindAsync(string accountId, CancellationToken cancellationToken) => store.FindByIdAsync(accountId, cancellationToken);

    public Task<Account?> FindByEmailAsync(string email, CancellationToken cancellationToken) => store.FindByEmailAsync(email, cancellationToken);

    public Task<IReadOnlyList<Account>> ListPageAsync(string? search, AccountCursor? after, int limit, CancellationToken cancellationToken) =>
        store.ListPageAsync(search is { Length: > 200 } ? search[..200] : search, after, Math.Clamp(limit, 1, 200), cancellationToken);

    /// <exception cref="ArgumentException">The name is too long or the time zone is not a known IANA id.</exception>
    public async Task<Account> UpdateProfileAsync(Account account, string? displayName, string? timeZone, CancellationToken cancellationToken)
    {
        var name = string.IsNullOrWhiteSpace(displayName) ? account.DisplayName : displayName.Trim();
        if (name.Length > 100)
        {
            throw new ArgumentException("The display name must be at most 100 characters", nameof(displayName));
        }

        var zone = string.IsNullOrWhiteSpace(timeZone) ? account.TimeZone : timeZone.Trim();
        if (!TimeZones.IsKnown(zone))
        {
            throw new ArgumentException($"'{(zone.Length > 60 ? zone[..60] : zone)}' is not a time zone; use an IANA name such as Europe/Paris", nameof(timeZone));
        }

        await store.UpdateProfileAsync(account.Id, name, zone, cancellationToken);
        return account with { DisplayName = name, TimeZone = zone };
    }

    /// <summary>Checks the current password, sets the new one and ends every session (a new security stamp); returns the new stamp.</summary>
    /// <exception cref="ArgumentException">The current password is wrong or the new one is too short.</exception>
    public async Task<string> ChangePasswordAsync(Account account, string currentPassword, string newPassword, CancellationToken cancellationToken)
    {
        if (!await VerifyPasswordAsync(account, currentPassword, cancellationToken))
        {
            throw new ArgumentException("The current password is not right", nameof(currentPassword));
        }

        CheckPassword(newPassword, nameof(newPassword));
        var stamp = NewStamp();
        await store.SetPasswordAsync(account.Id, _hasher.HashPassword(account, newPassword), stamp, cancellationToken);
        return stamp;
    }

    /// <summary>Ends every session of the account, this one included; returns the new stamp.</summary>
    public async Task<string> EndSessionsAsync(string accountId, CancellationToken cancellationToken)
    {
        var stamp = NewStamp();
        await store.SetSecurityStampAsync(accountId, stamp, cancellationToken);
        return stamp;
    }

    /// <summary>An owner or admin changes another account's role (only an owner makes or unmakes owners; the last owner stays).</summary>
    /// <exception cref="ArgumentException">The change is not allowed; the message says why.</exception>
    public async Task<Account> SetRoleAsync(Account actor, string accountId, AccountRole role, CancellationToken cancellationToken)
    {
        var target = await RequireManageableAsync(actor, accountId, cancellationToken);
        if (target.Role == role)
        {
            return target;
        }

        if ((role == AccountRole.Owner || target.Role == AccountRole.Owner) && actor.Role != AccountRole.Owner)
        {
            throw new ArgumentException("Only an owner can make or unmake owners", nameof(role));
        }

        if (target.Role == AccountRole.Owner && await store.CountActiveWithRoleAsync(AccountRole.Owner, cancellationToken) <= 1)
        {
            throw new ArgumentException("The last owner cannot stop being an owner; make another owner first", nameof(role));
        }

        await store.SetRoleAsync(target.Id, role, cancellationToken);
        await audit.RecordAsync(actor.Id, "account.role", target.Id, null,
            $"{AccountRoles.ToName(target.Role)} → {AccountRoles.ToName(role)}", cancellationToken);
        return target with { Role = role };
    }

    /// <summary>Disables (or enables) an account: its sessions end and its keys stop working at once.</summary>
    /// <exception cref="ArgumentException">The change is not allowed; the message says why.</exception>
    public async Task<Account> SetDisabledAsync(Account actor, string accountId, bool disabled, CancellationToken cancellationToken)
    {
        var target = await RequireManageableAsync(actor, accountId, cancellationToken);
        if (target.Disabled == disabled)
        {
            return target;
        }

        if (disabled && target.Role == AccountRole.Owner && actor.Role != AccountRole.Owner)
        {
            throw new ArgumentException("Only an owner can disable an owner", nameof(accountId));
        }

        if (disabled && target.Role == AccountRole.Owner && await store.CountActiveWithRoleAsync(AccountRole.Owner, cancellationToken) <= 1)
        {
            throw new ArgumentException("The last owner cannot be disabled", nameof(accountId));
        }

        var stamp = NewStamp();
        await store.SetDisabledAsync(target.Id, disabled, stamp, cancellationToken);

        // After the write, so a lookup racing with it cannot cache a key of the account again (the store refuses them now).
        await keyCache.EvictAccountEverywhereAsync(target.Id, cancellationToken);
        await audit.RecordAsync(actor.Id, disabled ? "account.disable" : "account.enable", target.Id, null, null, cancellationToken);
        return target with { Disabled = disabled, SecurityStamp = stamp };
    }

    private async Task<Account> RequireManageableAsync(Account actor, string accountId, CancellationToken cancellationToken)
    {
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only owners and admins manage accounts");
        }

        var target = await store.FindByIdAsync(accountId, cancellationToken) ?? throw new KeyNotFoundException("No such account");
        if (target.Id == actor.Id)
        {
            throw new ArgumentException("You cannot change your own role or disable your own account here", nameof(accountId));
        }

        return target;
    }

    private async Task GrantInitialCreditsAsync(Account account, CancellationToken cancellationToken)
    {
        if (credits.Value.InitialCredits > 0)
        {
            await billing.AddCreditsAsync(account.Id, "grant", Money.ToNanos(credits.Value.InitialCredits), "signup", null,
                "initial credits", account.CreatedAt, cancellationToken);
        }
    }

    private static (string Email, string DisplayName) CheckIdentity(string email, string? displayName)
    {
        email = (email ?? "").Trim();
        if (email.Length > 254 || !MailAddress.TryCreate(email, out var parsed) || parsed.Address != email)
        {
            throw new ArgumentException($"'{(email.Length > 60 ? email[..60] : email)}' is not an e-mail address", nameof(email));
        }

        displayName = string.IsNullOrWhiteSpace(displayName) ? email[..email.IndexOf('@', StringComparison.Ordinal)] : displayName.Trim();
        if (displayName.Length > 100)
        {
            throw new ArgumentException("The display name must be at most 100 characters", nameof(displayName));
        }

        return (email, displayName);
    }

    private static void CheckPassword(string password, string field)
    {
        if (password.Length < MinPasswordLength)
        {
            throw new ArgumentException($"The password must be at least {MinPasswordLength} characters", field);
        }

        if (password.Length > MaxPasswordLength)
        {
            throw new ArgumentException($"The password must be at most {MaxPasswordLength} characters", field);
        }
    }

    private static string NewStamp() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public async Task<bool> VerifyPasswordAsync(Account account, string password, CancellationToken cancellationToken)
    {
        if (password.Length > MaxPasswordLength)
        {
            return false; // never hash an unbounded input
        }

        var hash = await store.GetPasswordHashAsync(account.Id, cancellationToken);
        return hash is not null && _hasher.VerifyHashedPassword(account, hash, password) != PasswordVerificationResult.Failed;
    }
}

internal static class AccountsExtensions
{
    /// <summary>Registers the accounts feature (storage comes from <c>AddStorage</c>).</summary>
    public static IHostApplicationBuilder AddAccounts(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AccountService>();
        builder.Services.AddSingleton<InviteService>();
        builder.Services.AddSingleton<PasswordSignIn>();
        builder.Services.AddSingleton<Audit.AuditLog>();
        builder.Services.AddOptions<SignInOptions>()
            .BindConfiguration(SignInOptions.Section)
            .ValidateSettings(o => o.Validate());
        return builder;
    }
}
