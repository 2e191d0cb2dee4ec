"""The working-day clock: Chinese working days, deadline arithmetic, calendar imports.

`calendar` and `deadlines` are pure; `service` reads the app's configuration and the
imported calendar; `cli` is `hotline calendar import|status`.
"""
