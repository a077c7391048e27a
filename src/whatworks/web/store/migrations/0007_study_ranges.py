# Range checks on every study field (validators only: no change to the database).
# Numbered 0007 beside the editorial workflow's 0006; both depend on 0005.

from django.db import migrations, models

import whatworks.web.store.models


class Migration(migrations.Migration):

    dependencies = [
        ('store', '0005_merge_statement_aliases'),
    ]

    operations = [
        migrations.AlterField(
            model_name='finding',
            name='timepoint_months',
            field=models.FloatField(blank=True, null=True, validators=[whatworks.web.store.models.validate_timepoint]),
        ),
        migrations.AlterField(
            model_name='review',
            name='year',
            field=models.PositiveIntegerField(blank=True, null=True, validators=[whatworks.web.store.models.validate_year]),
        ),
        migrations.AlterField(
            model_name='study',
            name='follow_up_months',
            field=models.FloatField(blank=True, null=True, validators=[whatworks.web.store.models.validate_follow_up]),
        ),
        migrations.AlterField(
            model_name='study',
            name='sample_size',
            field=models.PositiveIntegerField(blank=True, null=True, validators=[whatworks.web.store.models.validate_sample_size]),
        ),
        migrations.AlterField(
            model_name='study',
            name='year',
            field=models.PositiveIntegerField(blank=True, null=True, validators=[whatworks.web.store.models.validate_year]),
        ),
    ]
