app_name = "ongoing"
urlpatterns: list = []
