# language: da
Egenskab: Sletning af oplysninger efter sletteproceduren
  Sletteproceduren (retention/PROCEDURE.md, genereret fra retention/schedule.yaml) siger,
  hvornår hver slags oplysninger slettes og hvorfor. En borger slettes ved, at borgerens
  nøgler destrueres (crypto-shredding), og derefter rækkerne. Samtykkeregistreringerne
  bevares uden identitet, så den dataansvarlige kan påvise samtykket
  (databeskyttelsesforordningens artikel 7, stk. 1). Hver sletning står i loggen med regel,
  antal og en hash, men uden personoplysninger.

  Regel: Trivselssvar slettes, når trivselssamtykket tilbagekaldes

    Scenarie: Tilbagekaldt trivselssamtykke
      Givet en borger henvist den 2. november 2026 med et trivselssamtykke underskrevet den 20. november 2026
      Og borgeren har besvaret trivselsspørgeskemaet ved baseline den 1. december 2026
      Når borgeren tilbagekalder trivselssamtykket den 10. januar 2027
      Og samtykkeservicen kører sine planlagte opgaver den 10. januar 2027
      Så er borgerens trivselssvar slettet
      Og sletningen står i loggen uden personoplysninger
      Og borgerens navn kan stadig læses

  Regel: Ved projektets afslutning slettes borgernes oplysninger, men samtykkerne bevares uden identitet

    Scenarie: Sletning efter projektets afslutning
      Givet en borger på Hold 2 henvist den 2. november 2026
      Og et journalsamtykke underskrevet og indført i journalen den 10. november 2026
      Når den dataansvarlige sletter ved projektets afslutning den 1. juli 2028
      Så kan borgeren ikke findes på CPR-nummeret
      Og samtykkeregistreringen findes stadig uden identitet
      Og sletningen står i loggen uden personoplysninger
      Og loggens hashkæde er intakt

    Scenarie: Sletning før projektets afslutning afvises
      Givet en borger på Hold 2 henvist den 2. november 2026
      Og et journalsamtykke underskrevet og indført i journalen den 10. november 2026
      Når den dataansvarlige sletter ved projektets afslutning den 30. juni 2028
      Så afvises sletningen
      Og borgeren kan stadig findes på CPR-nummeret

  Regel: En slettet borger kan ikke genskabes fra en ældre sikkerhedskopi

    Scenarie: Sikkerhedskopi fra før sletningen
      Givet en borger på Hold 2 henvist den 2. november 2026
      Og et journalsamtykke underskrevet og indført i journalen den 10. november 2026
      Og en sikkerhedskopi taget den 1. december 2026
      Når den dataansvarlige sletter ved projektets afslutning den 1. juli 2028
      Og sikkerhedskopien fra før sletningen genindlæses i en tom database med de nøgler, der findes nu
      Så kan borgerens CPR-nummer og navn ikke læses i den genindlæste database
      Og borgeren kan ikke findes på CPR-nummeret i den genindlæste database

  Regel: Samtykkeposter, videregivelser og udtræksmanifester slettes først fem år efter projektets afslutning
    Den dataansvarlige skal kunne påvise samtykkerne og videregivelserne (artikel 5, stk. 2,
    og artikel 7, stk. 1), så længe et krav kan rejses (forældelsesloven, 5 år). Derefter
    slettes de for hele organisationen, når den dataansvarlige har set en prøvekørsel og
    bekræftet med en ny kode. Databasen afviser selv en tidligere sletning.

    Scenarie: Samtykkeposter slettes først fem år efter projektets afslutning
      Givet en borger på Hold 2 henvist den 2. november 2026
      Og et journalsamtykke underskrevet og indført i journalen den 10. november 2026
      Når den dataansvarlige sletter ved projektets afslutning den 1. juli 2028
      Og den dataansvarlige sletter samtykkeposterne den 30. juni 2033
      Så afvises sletningen af samtykkeposterne
      Og samtykkeregistreringen findes stadig uden identitet
      Når den dataansvarlige sletter samtykkeposterne den 1. juli 2033
      Så er samtykkeregistreringen slettet
      Og sletningen af samtykkeposterne står i loggen uden personoplysninger
      Og loggens hashkæde er intakt
