"""Customer Portal configuration as code: portal.toml -> Stripe's configuration parameters.

Every setting is checked before anything is sent to Stripe; a bad one is
refused with a message naming it (``subscription_cancel.mode``).  The plans a
customer may switch between are read from the mirror.
"""

from __future__ import annotations

import tomllib
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from billing_app.hosted_pages import RETURN_PARAM
from billing_app.mirror.catalogue import is_addon



def default_portal_file() -> Path:
    """portal.toml in the working directory (your project's), else the example billing_app ships."""
    from billing_app.resources import EXAMPLE_PORTAL_FILE
    local = Path("portal.toml")
    return local if local.is_file() else EXAMPLE_PORTAL_FILE
MANAGED_BY = {"managed_by": "billing_app"}

CUSTOMER_FIELDS = ("address", "email", "name", "phone", "shipping", "tax_id")
CANCEL_MODES = ("at_period_end", "immediately")
PRORATIONS = ("none", "create_prorations", "always_invoice")
CANCEL_REASONS = ("customer_service", "low_quality", "missing_features", "other", "switched_service",
                  "too_complex", "too_expensive", "unused")
UPDATE_FIELDS = ("price", "quantity", "promotion_code")
DOWNGRADE_CONDITIONS = ("decreasing_item_amount", "shortening_interval")

KNOWN = {
    "": {"business_profile", "default_return_url", "invoice_history", "payment_method_update",
         "customer_update", "subscription_cancel", "subscription_update"},
    "business_profile": {"headline", "privacy_policy_url", "terms_of_service_url"},
    "invoice_history": {"enabled"},
    "payment_method_update": {"enabled"},
    "customer_update": {"enabled", "allowed_updates"},
    "subscription_cancel": {"enabled", "mode", "proration_behavior", "reasons"},
    "subscription_update": {"enabled", "allowed_updates", "proration_behavior", "products",
                            "downgrades_at_period_end", "adjustable_quantity"},
}
MAX_PRODUCTS = 10  # Stripe's limit for features.subscription_update.products
HEADLINE_MAX = 60  # Stripe's limit for business_profile.headline


class PortalConfigError(ValueError):
    """A setting in the portal file is invalid; the message starts with its name."""


def read_portal_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise PortalConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PortalConfigError(f"{path}: not valid TOML ({exc})") from None


class _Section:
    """Typed reads of one table of the file, each error naming the setting."""

    def __init__(self, raw: dict, name: str) -> None:
        value = raw.get(name, {}) if name else raw
        if not isinstance(value, dict):
            raise PortalConfigError(f"{name}: must be a table ([{name}])")
        unknown = sorted(set(value) - KNOWN[name])
        if unknown:
            raise PortalConfigError(f"{self._path(name, unknown[0])}: unknown setting; "
                                    f"known: {', '.join(sorted(KNOWN[name]))}")
        self.values, self.name = value, name

    @staticmethod
    def _path(section: str, key: str) -> str:
        return f"{section}.{key}" if section else key

    def path(self, key: str) -> str:
        return self._path(self.name, key)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise PortalConfigError(f"{self.path(key)}: must be true or false")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.values.get(key, default)
        if value not in choices:
            raise PortalConfigError(f"{self.path(key)}: {value!r} is not one of {', '.join(choices)}")
        return value

    def choices(self, key: str, choices: tuple[str, ...], default: list[str]) -> list[str]:
        value = self.values.get(key, default)
        if not isinstance(value, list) or any(v not in choices for v in value):
            raise PortalConfigError(f"{self.path(key)}: must be a list of {', '.join(choices)}")
        if len(set(value)) != len(value):
            raise PortalConfigError(f"{self.path(key)}: lists an entry twice")
        return value

    def url(self, key: str, default: str | None) -> str:
        value = self.values.get(key, default)
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise PortalConfigError(f"{self.path(key)}: {value!r} is not an absolute http(s) URL")
        return value

    def text(self, key: str, max_length: int) -> str | None:
        value = self.values.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > max_length):
            raise PortalConfigError(f"{self.path(key)}: must be text of at most {max_length} characters "
                                    f"(Stripe's limit; this is {len(value) if isinstance(value, str) else 'not text'})")
        return value


def _plans(section: _Section, catalog: list[dict]) -> list[dict]:
    """[{"product": ..., "prices": [...], "adjustable_quantity": ...}] from the mirror's active recurring
    prices: every product ("all"), those not marked as add-ons ("plans"), or a list of product ids."""
    rows = sorted(catalog, key=lambda r: (r["product_id"], r["id"]))
    by_product = {product: [row["id"] for row in group]
                  for product, group in groupby(rows, key=lambda r: r["product_id"])}
    addons = {row["product_id"] for row in rows if is_addon(row["product_metadata"])}
    wanted = section.values.get("products", "all")
    if wanted in ("all", "plans"):
        chosen = [product for product in sorted(by_product) if wanted == "all" or product not in addons]
    elif isinstance(wanted, list) and all(isinstance(p, str) for p in wanted):
        missing = [p for p in wanted if p not in by_product]
        if missing:
            raise PortalConfigError(f"{section.path('products')}: {missing[0]} is not an active product "
                                    "with active recurring prices in the mirror")
        if len(set(wanted)) != len(wanted):
            raise PortalConfigError(f"{section.path('products')}: lists a product twice")
        chosen = wanted
    else:
        raise PortalConfigError(f"{section.path('products')}: must be \"all\", \"plans\" or a list of product ids")
    if not chosen:
        raise PortalConfigError(f"{section.path('products')}: the mirror has no active recurring prices "
                                "to switch between; disable subscription_update or add prices in Stripe")
    if len(chosen) > MAX_PRODUCTS:
        hint = ("" if wanted != "all" or not addons else
                "; or products = \"plans\" to leave out the add-ons (billing_app_kind=addon)")
        raise PortalConfigError(
            f"{section.path('products')}: {len(chosen)} products, but Stripe's portal takes at most {MAX_PRODUCTS}: "
            f"list the ones customers may switch between, e.g. products = [\"{chosen[0]}\", ...]{hint}")
    quantities = _adjustable_quantities(section, chosen)
    return [{"product": product, "prices": by_product[product],
             **({"adjustable_quantity": quantities[product]} if product in quantities else {})}
            for product in chosen]


def _adjustable_quantities(section: _Section, products: list[str]) -> dict[str, dict]:
    """[subscription_update.adjustable_quantity]: product id = { minimum = 1, maximum = 50 } lets the
    customer choose how many (seats) of that product, within the bounds."""
    table = section.values.get("adjustable_quantity", {})
    path = section.path("adjustable_quantity")
    if not isinstance(table, dict):
        raise PortalConfigError(f"{path}: must be a table of product id = {{ minimum = 1, maximum = 50 }}")
    quantities = {}
    for product, bounds in table.items():
        where = f"{path}.{product}"
        if product not in products:
            raise PortalConfigError(f"{where}: not one of the products customers may switch between "
                                    f"({section.path('products')})")
        if not isinstance(bounds, dict) or set(bounds) - {"minimum", "maximum"}:
            raise PortalConfigError(f"{where}: must be {{ minimum = 1, maximum = 50 }} (either may be left out)")
        values = {key: bounds[key] for key in ("minimum", "maximum") if key in bounds}
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values.values()):
            raise PortalConfigError(f"{where}: minimum and maximum must be whole numbers, 0 or more")
        if values.get("minimum", 0) > values.get("maximum", values.get("minimum", 0)):
            raise PortalConfigError(f"{where}: minimum is larger than maximum")
        quantities[product] = {"enabled": True, **values}
    return quantities


# the portal's legal links: the setting that gives each, and its words
LEGAL_LINKS = {"privacy_policy_url": ("PRIVACY_URL", "privacy policy"),
               "terms_of_service_url": ("TERMS_URL", "terms of service")}


def portal_configuration_params(raw: dict, site_url: str, catalog: list[dict], *,
                                billing_url: str | None = None, terms_url: str | None = None,
                                privacy_url: str | None = None, own_legal_pages: bool = True) -> dict[str, Any]:
    """The parameters for billing_portal.configurations.create/update.

    Legal pages: the file's, else TERMS_URL/PRIVACY_URL, else the app's own /terms and /privacy,
    which only billing_app's own site has (``own_legal_pages``): mounted in a host, a link left
    unknown is left out (see ``missing_legal_links``) rather than pointed at a page that may not be
    there; an update then removes only a link to that page which an earlier release guessed
    (``links_to_clear``), and Stripe keeps any other.
    """
    top = _Section(raw, "")
    profile = _Section(raw, "business_profile")
    own = own_legal_pages_at(site_url) if own_legal_pages else {}
    given = {"privacy_policy_url": privacy_url, "terms_of_service_url": terms_url}
    known = {name: given[name] or own.get(name) for name in LEGAL_LINKS}
    business_profile = {name: profile.url(name, default) for name, default in known.items()
                        if default is not None or name in profile.values}
    headline = profile.text("headline", HEADLINE_MAX)
    if headline:
        business_profile["headline"] = headline

    features: dict[str, Any] = {}
    for name in ("invoice_history", "payment_method_update"):
        features[name] = {"enabled": _Section(raw, name).boolean("enabled", True)}

    customer = _Section(raw, "customer_update")
    features["customer_update"] = {"enabled": customer.boolean("enabled", True)}
    if features["customer_update"]["enabled"]:
        allowed = customer.choices("allowed_updates", CUSTOMER_FIELDS, ["email", "address"])
        if not allowed:
            raise PortalConfigError("customer_update.allowed_updates: empty; list fields or set enabled = false")
        features["customer_update"]["allowed_updates"] = allowed

    cancel = _Section(raw, "subscription_cancel")
    features["subscription_cancel"] = {"enabled": cancel.boolean("enabled", True)}
    if features["subscription_cancel"]["enabled"]:
        mode = cancel.choice("mode", CANCEL_MODES, "at_period_end")
        features["subscription_cancel"]["mode"] = mode
        proration = cancel.choice("proration_behavior", PRORATIONS, "none")
        if mode == "immediately":
            features["subscription_cancel"]["proration_behavior"] = proration
        reasons = cancel.choices("reasons", CANCEL_REASONS, [])
        features["subscription_cancel"]["cancellation_reason"] = (
            {"enabled": True, "options": reasons} if reasons else {"enabled": False})

    update = _Section(raw, "subscription_update")
    features["subscription_update"] = {"enabled": update.boolean("enabled", True)}
    if features["subscription_update"]["enabled"]:
        allowed = update.choices("allowed_updates", UPDATE_FIELDS, ["price"])
        if not allowed:
            raise PortalConfigError("subscription_update.allowed_updates: empty; list fields or set enabled = false")
        conditions = update.choices("downgrades_at_period_end", DOWNGRADE_CONDITIONS, [])
        features["subscription_update"].update(
            default_allowed_updates=allowed,
            proration_behavior=update.choice("proration_behavior", PRORATIONS, "create_prorations"),
            products=_plans(update, catalog),
            schedule_at_period_end={"conditions": [{"type": c} for c in conditions]},
        )

    return {
        "business_profile": business_profile,
        "default_return_url": top.url("default_return_url",
                                     f"{billing_url or site_url}/account?{RETURN_PARAM}=portal"),
        "features": features,
        "metadata": dict(MANAGED_BY),
    }


def own_legal_pages_at(site_url: str) -> dict[str, str]:
    """The portal's legal links to billing_app's own /privacy and /terms on ``site_url``."""
    return {"privacy_policy_url": f"{site_url}/privacy", "terms_of_service_url": f"{site_url}/terms"}


def links_to_clear(params: dict[str, Any], existing: dict[str, Any], site_url: str) -> dict[str, str]:
    """For an update that leaves a legal link out: each link (field: URL) the existing configuration has
    to billing_app's own page, which releases before this one sent on a guess even when mounted (where
    there is no such page); the update sends "" for it, Stripe's way to remove it.  A link of the team's
    own choosing stays."""
    have, own = existing.get("business_profile") or {}, own_legal_pages_at(site_url)
    return {name: own[name] for name in missing_legal_links(params) if have.get(name) == own[name]}


def missing_legal_links(params: dict[str, Any]) -> list[str]:
    """The legal links (LEGAL_LINKS' fields) ``params`` leave out."""
    return [name for name in LEGAL_LINKS if name not in params["business_profile"]]
