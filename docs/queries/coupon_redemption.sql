-- Coupon redemption by partner and campaign: issued, redeemed, rate and discount over all issue dates.
select
    platform_name_ko,
    campaign_id,
    any_value(campaign_name) as campaign_name,
    sum(coupons_issued) as coupons_issued,
    sum(coupons_redeemed) as coupons_redeemed,
    round(sum(coupons_redeemed) / sum(coupons_issued), 3) as redemption_rate,
    sum(discount_krw) as discount_krw
from marts.mart_coupon_redemption
group by all
order by coupons_issued desc, campaign_id;
