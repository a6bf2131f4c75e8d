"""Money: tariffs and the rating engine as pure functions over frozen values (no database).

``rating.money`` is the rounding policy, ``rating.tariff`` the tariff terms and segments,
``rating.price_list`` the operator's price list, ``rating.engine`` the rating of one call.
"""
