"""The product catalogue: one consumable pack per module, the same product id on both stores."""

from __future__ import annotations

from dataclasses import dataclass

from ieltsprep.settings import MODULES

CREDITS_PER_PACK = 4
PRICE_USD = 36.0
PRODUCT_PREFIX = "com.ieltsgenaiprep."


@dataclass(frozen=True)
class Product:
    """A pack of credits for one module."""

    product_id: str
    module: str
    credits: int
    price_usd: float

    def as_json(self) -> dict[str, object]:
        """The product as ``GET /api/products`` shows it."""
        return {
            "product_id": self.product_id,
            "module": self.module,
            "credits": self.credits,
            "price_usd": self.price_usd,
        }


PRODUCTS: tuple[Product, ...] = tuple(
    Product(f"{PRODUCT_PREFIX}{module}", module, CREDITS_PER_PACK, PRICE_USD) for module in MODULES
)
_BY_ID = {product.product_id: product for product in PRODUCTS}


def product(product_id: str) -> Product | None:
    """The product with this store id, or None when it is not one of ours."""
    return _BY_ID.get(product_id)
